package customhandler

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/textutil"
)

// NewRequest builds the *http.Request the caller made, in the shape a Go
// server hands to a handler, so that the same [http.Handler] serves the
// forwarded mode and the JSON mode:
//
//   - Method is t.Method; a missing or malformed method is an error.
//   - URL holds the path and raw query of t.URL (no scheme or host, as on a
//     server); when t.URL has no query, t.Query is encoded instead (sorted by
//     key). A missing URL yields path "/"; a relative path gets a leading
//     "/".
//   - Host is the host of t.URL, else the Host header; the Host header is
//     removed from Header as net/http does.
//   - Header holds t.Headers with canonical names; Content-Length reflects
//     the body actually attached and Transfer-Encoding is dropped.
//   - Body reads t.Body; ContentLength is its length (http.NoBody when empty).
//
// RequestURI is set; RemoteAddr and TLS are left empty. A nil ctx means
// context.Background().
func (t *HTTPTrigger) NewRequest(ctx context.Context) (*http.Request, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if t.Method == "" {
		return nil, &DecodeError{Path: "Method", Reason: "is missing"}
	}
	if !textutil.IsToken(t.Method) {
		return nil, &DecodeError{Path: "Method", Reason: "is not a valid HTTP method"}
	}
	u := &url.URL{Path: "/"}
	host := ""
	if t.URL != "" {
		// The parse error is dropped on purpose: *url.Error repeats the
		// URL, which can carry a function key (?code=).
		pu, err := url.Parse(t.URL)
		if err != nil {
			return nil, &DecodeError{Path: "Url", Reason: "is not a valid URL"}
		}
		if pu.Opaque != "" {
			return nil, &DecodeError{Path: "Url", Reason: "is not a hierarchical URL"}
		}
		u = &url.URL{Path: pu.Path, RawPath: pu.RawPath, RawQuery: pu.RawQuery}
		if !strings.HasPrefix(u.Path, "/") { // "" or a relative reference such as "api/x"
			u.Path = "/" + u.Path
			if u.RawPath != "" {
				u.RawPath = "/" + u.RawPath
			}
		}
		host = pu.Host
	}
	if u.RawQuery == "" && len(t.Query) > 0 {
		keys := make([]string, 0, len(t.Query))
		for k := range t.Query {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(t.Query[k]))
		}
		u.RawQuery = b.String()
	}

	var body io.Reader = http.NoBody
	if t.Body != "" {
		body = strings.NewReader(t.Body)
	}
	// NewRequestWithContext with a fixed target, then the parsed URL: a
	// path such as "//x" must stay a path, not become a host.
	r, err := http.NewRequestWithContext(ctx, t.Method, "/", body)
	if err != nil {
		return nil, &DecodeError{Path: "Method", Reason: "is not a valid HTTP method"}
	}
	r.URL = u
	r.RequestURI = u.RequestURI()

	h := make(http.Header, len(t.Headers)+1)
	for k, vs := range t.Headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if host == "" {
		host = h.Get("Host")
	}
	h.Del("Host")
	h.Del("Transfer-Encoding")
	h.Del("Content-Length")
	if t.Body != "" {
		h.Set("Content-Length", strconv.Itoa(len(t.Body)))
	}
	r.Header = h
	r.Host = host
	return r, nil
}
