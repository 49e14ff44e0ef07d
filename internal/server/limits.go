package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/serverless-signalr/functions-go/customhandler"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"golang.org/x/sync/semaphore"
)

// defaultMaxBody bounds the body of a function that declares no
// MaxBodyBytes (negotiate and health take none).
const defaultMaxBody = 64 << 10

// checkBody refuses, before anything of the body is read, a request whose
// Content-Length is over f's limit (413), and for a function that changes
// state (JSONBody) any Content-Type but application/json with an optional
// charset parameter, or none (415). Browsers send text/plain,
// multipart/form-data and application/x-www-form-urlencoded bodies across
// origins without a CORS preflight; application/json always needs one, so a
// page on another origin cannot make the handler act.
func (s *Server) checkBody(f Function, next http.Handler) http.Handler {
	max := f.maxBody()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			s.fail(w, r, apperr.New(apperr.CodeBodyTooLarge, fmt.Sprintf("the body is %d bytes; %s accepts at most %d", r.ContentLength, f.Name, max), ""))
			return
		}
		if f.JSONBody && !isJSONContentType(r.Header.Get("Content-Type")) {
			s.fail(w, r, apperr.New(apperr.CodeUnsupportedMediaType, fmt.Sprintf("%s needs Content-Type application/json, got %q", f.Name, textutil.Truncate(r.Header.Get("Content-Type"), 64)), ""))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxBody is the largest body f accepts.
func (f Function) maxBody() int64 {
	if f.MaxBodyBytes > 0 {
		return f.MaxBodyBytes
	}
	return defaultMaxBody
}

// maxEnvelope is the largest invocation envelope for f: the body arrives
// JSON-escaped in Data.req.Body and its top-level properties once more in
// Metadata, besides headers and identities.
func (f Function) maxEnvelope() int64 { return 3*f.maxBody() + 64<<10 }

// holdBody admits a forwarded request's body into memory (see
// reserveBody), cuts it at max and gives it HANDLER_READ_TIMEOUT to arrive.
func (s *Server) holdBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, err := s.reserveBody(r, max)
		if err != nil {
			s.overloaded(w, r, err)
			return
		}
		defer release()
		next.ServeHTTP(w, withBody(r, func(b io.ReadCloser) io.ReadCloser {
			return s.bodyDeadline(w, http.MaxBytesReader(w, b, max))
		}))
	})
}

// withBody returns a shallow copy of r whose body is wrap(r.Body). The
// server's own request keeps net/http's body, which net/http inspects after
// the handler (an unread body over 256 KiB closes the connection instead of
// being drained before the answer is sent).
func withBody(r *http.Request, wrap func(io.ReadCloser) io.ReadCloser) *http.Request {
	if r.Body == nil || r.Body == http.NoBody {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = wrap(r.Body)
	return r2
}

// envelopeGate applies the in-flight bound of a function (n, nil for none)
// and the body budget to the host's JSON-mode invocation BEFORE its
// envelope is read, answering a refusal as the host needs it: HTTP 200 with
// Outputs.res.statusCode 503 and Retry-After (a non-2xx answer would fail
// the invocation and give the caller a bare 500). The envelope then has
// HANDLER_READ_TIMEOUT to arrive.
func (s *Server) envelopeGate(f Function, n *atomic.Int64, next http.Handler) http.Handler {
	max := f.maxEnvelope()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(err *apperr.Error) {
			customhandler.Respond(w, r, "res", http.HandlerFunc(func(bw http.ResponseWriter, r *http.Request) {
				s.overloaded(bw, r, err)
			}))
		}
		leave, err := s.enter(n)
		if err != nil {
			refuse(err)
			return
		}
		defer leave()
		release, err := s.reserveBody(r, max)
		if err != nil {
			refuse(err)
			return
		}
		defer release()
		next.ServeHTTP(w, withBody(r, func(b io.ReadCloser) io.ReadCloser { return s.bodyDeadline(w, b) }))
	})
}

// limitInFlight sheds load beyond HANDLER_MAX_IN_FLIGHT concurrent
// requests of one function (counted by n) with an immediate 503 instead of
// letting requests queue until the host times out.
func (s *Server) limitInFlight(n *atomic.Int64, next http.Handler) http.Handler {
	if s.cfg.MaxInFlight <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leave, err := s.enter(n)
		if err != nil {
			s.overloaded(w, r, err)
			return
		}
		defer leave()
		next.ServeHTTP(w, r)
	})
}

// enter counts one more request in n, or refuses it beyond
// HANDLER_MAX_IN_FLIGHT (n nil or no bound: always admitted).
func (s *Server) enter(n *atomic.Int64) (leave func(), err *apperr.Error) {
	max := int64(s.cfg.MaxInFlight)
	if n == nil || max <= 0 {
		return func() {}, nil
	}
	if n.Add(1) > max {
		n.Add(-1)
		return nil, apperr.New(apperr.CodeHandlerOverloaded, fmt.Sprintf("more than %d requests of this function are in flight", max), "")
	}
	return func() { n.Add(-1) }, nil
}

// reserveBody reserves r's body (its Content-Length, or max when chunked)
// in the server-wide budget (HANDLER_MAX_BODY_MEMORY_MB), waiting for room
// at most HANDLER_READ_TIMEOUT.
func (s *Server) reserveBody(r *http.Request, max int64) (release func(), err *apperr.Error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return func() {}, nil
	}
	need := r.ContentLength
	if need < 0 {
		need = max
	}
	return s.bodies.reserve(r.Context(), need, s.readTimeout)
}

// overloaded answers 503 with Retry-After.
func (s *Server) overloaded(w http.ResponseWriter, r *http.Request, err *apperr.Error) {
	w.Header().Set("Retry-After", "1")
	s.fail(w, r, err)
}

// isJSONContentType reports whether ct is application/json with at most a
// charset parameter.
func isJSONContentType(ct string) bool {
	switch ct { // what clients send, without parsing
	case "application/json", "application/json; charset=utf-8", "application/json;charset=utf-8", "application/json; charset=UTF-8":
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	for k := range params {
		if k != "charset" {
			return false
		}
	}
	return true
}

// bodyDeadline makes the connection's read deadline HANDLER_READ_TIMEOUT
// from now while body is read, and clears it when the body has been read
// to its end. The deadline is not net/http's ReadTimeout on purpose:
// that one stays armed after the body was read, and when it fires under a
// handler that is still working (a broadcast waiting for a slow service),
// net/http's background read fails and cancels the request's context.
func (s *Server) bodyDeadline(w http.ResponseWriter, body io.ReadCloser) io.ReadCloser {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(s.readTimeout)) != nil {
		return body // not a net/http connection (tests with a recorder)
	}
	return &deadlineBody{ReadCloser: body, rc: rc}
}

type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	once sync.Once
}

// Read clears the deadline at the end of the body only: after a timeout
// or a body left unread it stays, so that net/http's own draining of the
// rest after the handler is bounded too.
func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(func() { b.rc.SetReadDeadline(time.Time{}) })
	}
	return n, err
}

// bodyBudget bounds the bytes of request bodies held at once.
type bodyBudget struct {
	sem     *semaphore.Weighted
	max     int64
	waiting atomic.Int64
}

func newBodyBudget(max int64) *bodyBudget {
	return &bodyBudget{sem: semaphore.NewWeighted(max), max: max}
}

// reserve takes n bytes of the budget, waiting at most wait; release gives
// them back. A request larger than the whole budget takes all of it.
func (b *bodyBudget) reserve(ctx context.Context, n int64, wait time.Duration) (release func(), err *apperr.Error) {
	n = min(n, b.max)
	if b.sem.TryAcquire(n) {
		return func() { b.sem.Release(n) }, nil
	}
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, apperr.New(apperr.CodeHandlerOverloaded,
			"the request bodies in memory reached HANDLER_MAX_BODY_MEMORY_MB ("+strconv.FormatInt(b.max>>20, 10)+" MiB) and no room was free within HANDLER_READ_TIMEOUT", "")
	}
	return func() { b.sem.Release(n) }, nil
}

// bodyReadError explains why reading a body failed: over max (413), not
// arrived within HANDLER_READ_TIMEOUT (408), or the connection failed.
func bodyReadError(err error, max int64) *apperr.Error {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return apperr.New(apperr.CodeBodyTooLarge, fmt.Sprintf("the body is larger than %d bytes", max), "")
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return apperr.New(apperr.CodeBodyTimeout, "the body did not arrive within HANDLER_READ_TIMEOUT", "")
	}
	return apperr.New(apperr.CodeBodyIncomplete, "the body could not be read: the connection failed before it ended", "")
}
