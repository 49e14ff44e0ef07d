package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

var negotiateBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// handleNegotiate serves the "POST /api/negotiate" route (GET too, and
// OPTIONS for preflights), and "POST /negotiate" through the Functions
// envelope. It answers {"url","accessToken"}, which @microsoft/signalr
// follows as a redirect to the service.
//
// The path makes no network call and logs nothing above debug.
func (s *Server) handleNegotiate(w http.ResponseWriter, r *http.Request) {
	hubKey, err := s.pickHub(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.identity.Resolve(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ep, err := s.endpoints.pick()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	signer, err := ep.signer(r.Context())
	if err != nil {
		s.fail(w, r, apperr.Wrap(err, apperr.CodeNegotiateKeyUnavailable, "the key for signing client tokens is not available"))
		return
	}
	target := ep.hubs[hubKey]
	opts := signalr.TokenOptions{UserID: p.UserID, Lifetime: s.cfg.TokenLifetime}
	opts.Claims = p.Copied // SIGNALR_CLAIM_TYPES, selected once per verified token by the resolver
	token, err := signer.Sign(target.audience, &opts)
	if err != nil {
		s.fail(w, r, tokenError(err))
		return
	}

	bp := negotiateBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"url":`...)
	b = append(b, target.urlJSON...)
	b = append(b, `,"accessToken":"`...)
	b = append(b, token...)
	b = append(b, `"}`...)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	*bp = b
	negotiateBufs.Put(bp)
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("negotiated", "hub", hubKey, "endpoint", ep.name, "source", string(p.Source), "user", p.UserID != "")
	}
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

// pickHub returns the lower-cased hub of the request: ?hub= when it is
// allowed, else the default hub. It scans the raw query instead of parsing
// it into a map: the JS client always sends ?negotiateVersion=1.
func (s *Server) pickHub(r *http.Request) (string, error) {
	def := s.defaultHub
	raw, n := queryValue(r.URL.RawQuery, "hub")
	if n == 0 {
		return def, nil
	}
	if n > 1 {
		return "", apperr.New(apperr.CodeNegotiateInvalidHub, "the hub query parameter is repeated", "Send ?hub= once; the service answers 400 to duplicate hub parameters.")
	}
	h, err := url.QueryUnescape(raw)
	if err != nil {
		return "", apperr.New(apperr.CodeNegotiateInvalidHub, "the hub query parameter is not validly escaped", "")
	}
	if h == "" {
		return def, nil
	}
	if err := validateHub(h); err != nil {
		return "", apperr.New(apperr.CodeNegotiateInvalidHub, fmt.Sprintf("hub %q is not a valid hub name", textutil.Truncate(h, 64)), "")
	}
	k := strings.ToLower(h)
	if _, ok := s.hubs[k]; !ok {
		return "", apperr.New(apperr.CodeNegotiateHubNotAllowed, fmt.Sprintf("hub %q is not allowed", h), "")
	}
	return k, nil
}

// queryValue returns the first raw (still escaped) value of key in a raw
// query string and how many times key occurs.
func queryValue(rawQuery, key string) (value string, n int) {
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(part, "=")
		if k == key {
			if n == 0 {
				value = v
			}
			n++
		}
	}
	return value, n
}

// tokenError maps the SDK's token errors onto the taxonomy.
func tokenError(err error) error {
	var tl *signalr.TokenTooLargeError
	if errors.As(err, &tl) {
		return apperr.Wrap(err, apperr.CodeNegotiateTokenTooLarge, tl.Error())
	}
	var ce *signalr.ClaimError
	if errors.As(err, &ce) {
		return apperr.Wrap(err, apperr.CodeNegotiateInvalidClaim, ce.Error())
	}
	return apperr.Wrap(err, apperr.CodeInternal, "the client access token could not be generated")
}
