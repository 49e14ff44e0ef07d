package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// corsPolicy answers CORS for browsers calling the handler directly
// (standalone and development; in Azure the platform may do it instead, in
// which case CORS_ALLOWED_ORIGINS stays empty).
type corsPolicy struct {
	origins     map[string]bool
	any         bool // "*" without credentials
	credentials bool
}

func newCORSPolicy(c Config) *corsPolicy {
	if len(c.CORSAllowedOrigins) == 0 {
		return nil
	}
	p := &corsPolicy{origins: make(map[string]bool), credentials: c.CORSAllowCredentials}
	for _, o := range c.CORSAllowedOrigins {
		if o == "*" {
			p.any = true
			continue
		}
		p.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return p
}

// checkOrigin reports whether o is a bare origin: scheme://host[:port].
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin of the form scheme://host[:port]", o)
	}
	return nil
}

// Allowed reports whether origin may call the handler.
func (p *corsPolicy) Allowed(origin string) bool {
	if p == nil || origin == "" {
		return false
	}
	return p.any || p.origins[strings.ToLower(origin)]
}

// CORSDecision is what the handler would answer to a browser's preflight
// from an origin, and why; `handler doctor --origin` prints it.
type CORSDecision struct {
	Allowed bool
	Headers map[string]string
	Reason  string
}

// PreflightDecision explains the preflight answer for origin.
func PreflightDecision(c Config, origin string) CORSDecision {
	p := newCORSPolicy(c)
	switch {
	case p == nil:
		return CORSDecision{Reason: "CORS_ALLOWED_ORIGINS is empty: the handler adds no CORS headers, so a browser page on another origin is blocked unless the platform answers CORS (az functionapp cors add, plus `az functionapp cors credentials --enable true`)"}
	case !p.Allowed(origin):
		return CORSDecision{Reason: fmt.Sprintf("origin %q is not in CORS_ALLOWED_ORIGINS (%s); origins must match exactly, scheme and port included", origin, strings.Join(c.CORSAllowedOrigins, ","))}
	}
	d := CORSDecision{Allowed: true, Headers: map[string]string{}}
	h := http.Header{}
	p.setHeaders(h, origin)
	p.setPreflight(h, "POST", "authorization,content-type,x-requested-with,x-signalr-user-agent")
	for k := range h {
		d.Headers[k] = h.Get(k)
	}
	if p.credentials {
		d.Reason = "the origin is echoed with Access-Control-Allow-Credentials: true, which credentialed requests from @microsoft/signalr need"
	} else {
		d.Reason = "the origin is allowed but CORS_ALLOW_CREDENTIALS is false: @microsoft/signalr sends credentials by default, so the browser will reject the response unless the client sets withCredentials: false"
	}
	return d
}

func (p *corsPolicy) setHeaders(h http.Header, origin string) {
	if p.any && !p.credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func (p *corsPolicy) setPreflight(h http.Header, method, headers string) {
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if headers != "" {
		h.Set("Access-Control-Allow-Headers", headers)
	}
	h.Set("Access-Control-Max-Age", "600")
}

// cors wraps next with the policy: allowed origins get their headers,
// preflights are answered here, and preflights from other origins get a 403
// JSON error that names the origin.
func (p *corsPolicy) wrap(next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !p.Allowed(origin) {
			if preflight {
				apperr.Write(w, apperr.New(apperr.CodeCORSOriginDenied,
					fmt.Sprintf("origin %q is not allowed to call this handler", origin), ""))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		p.setHeaders(w.Header(), origin)
		if preflight {
			p.setPreflight(w.Header(), r.Header.Get("Access-Control-Request-Method"), r.Header.Get("Access-Control-Request-Headers"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
