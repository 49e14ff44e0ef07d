package emulator

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// principal is who a valid token says the caller is.
type principal struct {
	user   string
	claims jwt.MapClaims
}

// tokenError is a rejected token; its message explains why without quoting
// the token or the key.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

func tokenErrorf(format string, args ...any) error {
	return &tokenError{msg: fmt.Sprintf(format, args...)}
}

// bearerToken returns the token of r: the Authorization header, else (when
// allowQuery) the access_token query parameter that browsers use on the
// WebSocket upgrade. It returns "" when there is none.
func bearerToken(r *http.Request, allowQuery bool) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if allowQuery {
		return r.URL.Query().Get("access_token")
	}
	return ""
}

// missingTokenMessage says where the emulator looked.
func missingTokenMessage(allowQuery bool) string {
	if allowQuery {
		return "no access token: the emulator looks for an \"Authorization: Bearer <token>\" header or an access_token query parameter"
	}
	return "no access token: the emulator looks for an \"Authorization: Bearer <token>\" header"
}

// validate checks raw the way the service does, and a little stricter: the
// signature must be HS256 with the configured key (alg none and every other
// algorithm are refused), exp must be present and not in the past (no
// leeway), and checkAud must accept the aud claim.
func (e *Emulator) validate(raw string, checkAud func(aud string) error) (principal, error) {
	if raw == "" {
		return principal{}, tokenErrorf("empty token")
	}
	unverified, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		return principal{}, tokenErrorf("the token is not a well-formed JWT (three base64url parts: header.payload.signature)")
	}
	alg, _ := unverified.Header["alg"].(string)
	if alg != "HS256" {
		return principal{}, tokenErrorf("token algorithm %q is not accepted: the service's tokens are signed with HS256 using the AccessKey of the connection string", alg)
	}
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	_, err = parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return e.key, nil })
	if err != nil {
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			return principal{}, tokenErrorf("token signature is invalid: check that the AccessKey in your connection string equals the emulator's -key (tokens are signed with the UTF-8 bytes of the key string, not its base64 decoding)")
		}
		return principal{}, tokenErrorf("token could not be verified: %s", cleanJWTError(err))
	}
	exp, err := claims.GetExpirationTime()
	if err != nil {
		return principal{}, tokenErrorf("token exp claim is not a number of seconds since 1970")
	}
	if exp == nil {
		return principal{}, tokenErrorf("token has no exp claim; the service requires one")
	}
	now := e.now()
	if !now.Before(exp.Time) {
		return principal{}, tokenErrorf("token expired %s ago (exp %s, emulator clock %s; the emulator allows no clock skew)",
			now.Sub(exp.Time).Round(time.Second), exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	aud, err := audienceOf(claims)
	if err != nil {
		return principal{}, err
	}
	if err := checkAud(aud); err != nil {
		return principal{}, err
	}
	return principal{user: userOf(claims), claims: claims}, nil
}

// cleanJWTError keeps the library's reason but never the token.
func cleanJWTError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unverifiable token"
	default:
		return "invalid token"
	}
}

// audienceOf returns aud as a string; a one-element array is accepted.
func audienceOf(c jwt.MapClaims) (string, error) {
	switch v := c["aud"].(type) {
	case nil:
		return "", tokenErrorf("token has no aud claim; the service requires the audience (the URL the token is for)")
	case string:
		return v, nil
	case []any:
		if len(v) == 1 {
			if s, ok := v[0].(string); ok {
				return s, nil
			}
		}
		return "", tokenErrorf("token aud claim must be one string (got an array of %d values)", len(v))
	default:
		return "", tokenErrorf("token aud claim must be a string")
	}
}

// userOf resolves the user id: asrs.s.uid, else nameid (string or first of
// an array), else sub.
func userOf(c jwt.MapClaims) string {
	for _, name := range []string{"asrs.s.uid", "nameid", "sub"} {
		switch v := c[name].(type) {
		case string:
			if v != "" {
				return v
			}
		case []any:
			if len(v) > 0 {
				if s, ok := v[0].(string); ok && s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// normURL is an audience or request URL reduced to what the emulator
// compares: scheme, host without port (loopback names folded to
// "localhost"), the unescaped path segments without a trailing slash (the
// segment after "hubs" lower-cased) and the query.
type normURL struct {
	scheme string
	host   string
	segs   []string
	query  url.Values
}

func (n normURL) String() string {
	var b strings.Builder
	b.WriteString(n.scheme + "://" + n.host)
	for _, s := range n.segs {
		b.WriteString("/" + url.PathEscape(s))
	}
	if n.scheme != "" && len(n.segs) == 1 && n.segs[0] == "client" {
		b.WriteString("/")
	}
	if len(n.query) > 0 {
		b.WriteString("?" + n.query.Encode())
	}
	return b.String()
}

func (n normURL) samePath(o normURL) bool {
	if n.scheme != o.scheme || n.host != o.host || len(n.segs) != len(o.segs) {
		return false
	}
	for i := range n.segs {
		if n.segs[i] != o.segs[i] {
			return false
		}
	}
	return true
}

// foldHost lower-cases a host and folds the loopback names together: the
// emulator only ever runs on one machine, and "localhost" in a connection
// string reaches it as 127.0.0.1 or [::1].
func foldHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	if h == "localhost" {
		return h
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return "localhost"
	}
	return h
}

// splitSegments unescapes each segment of an escaped path; trailing and
// repeated slashes are dropped.
func splitSegments(escaped string) ([]string, error) {
	var segs []string
	for _, s := range strings.Split(escaped, "/") {
		if s == "" {
			continue
		}
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		segs = append(segs, u)
	}
	for i := 0; i+1 < len(segs); i++ {
		if segs[i] == "hubs" {
			segs[i+1] = strings.ToLower(segs[i+1])
			break
		}
	}
	return segs, nil
}

// parseAudience normalises an aud claim.
func parseAudience(aud string) (normURL, error) {
	u, err := url.Parse(aud)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return normURL{}, tokenErrorf("token aud %q is not an absolute URL", aud)
	}
	segs, err := splitSegments(u.EscapedPath())
	if err != nil {
		return normURL{}, tokenErrorf("token aud %q has an invalid escape in its path", aud)
	}
	return normURL{scheme: strings.ToLower(u.Scheme), host: foldHost(u.Hostname()), segs: segs, query: u.Query()}, nil
}

// requestBase returns the normalised scheme and host of r.
func requestBase(r *http.Request) normURL {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return normURL{scheme: scheme, host: foldHost(host)}
}

// clientAudience is the audience a client token for hubKey must carry at r.
func clientAudience(r *http.Request, hubKey string) normURL {
	n := requestBase(r)
	n.segs = []string{"client"}
	n.query = url.Values{"hub": {hubKey}}
	return n
}

// checkClientAudience returns the aud check for client endpoints: the client
// URL `{scheme}://{host}/client/?hub={hub}` with port, trailing slash and hub
// case ignored.
func checkClientAudience(r *http.Request, hubKey string) func(string) error {
	want := clientAudience(r, hubKey)
	return func(aud string) error {
		got, err := parseAudience(aud)
		if err == nil && got.samePath(want) && strings.EqualFold(got.query.Get("hub"), hubKey) {
			return nil
		}
		return tokenErrorf("token audience does not match this client endpoint: expected %q (scheme://host without port + /client/?hub=<hub lower-cased>), got %q. A token minted for the REST API or another hub cannot be used to connect a client", want.String(), aud)
	}
}

// checkRESTAudience returns the aud check for REST endpoints: the request
// URL without port; the aud query must be absent or hold only api-version
// and application with the request's values (the .NET SDK signs
// `?api-version=…` or `?application=…&api-version=…`; excluded, reason and
// ttl are never part of aud).
func checkRESTAudience(r *http.Request) func(string) error {
	want := requestBase(r)
	segs, _ := splitSegments(r.URL.EscapedPath())
	want.segs = segs
	reqQuery := r.URL.Query()
	want.query = url.Values{}
	for _, k := range []string{"application", "api-version"} {
		if v := reqQuery.Get(k); v != "" {
			want.query.Set(k, v)
		}
	}
	return func(aud string) error {
		got, err := parseAudience(aud)
		if err == nil && got.samePath(want) && restQueryMatches(got.query, reqQuery) {
			return nil
		}
		return tokenErrorf("token audience does not match the request URL: expected %q (the request URL without port; the query may be omitted), got %q. Mint a server token per REST URL; a client token cannot call the REST API", want.String(), aud)
	}
}

func restQueryMatches(aud, req url.Values) bool {
	for k, vs := range aud {
		if len(vs) != 1 {
			return false
		}
		switch k {
		case "api-version":
			if req.Get(k) != vs[0] {
				return false
			}
		case "application":
			if !strings.EqualFold(req.Get(k), vs[0]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// writeUnauthorized answers 401 with the explanation.
func writeUnauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, r, http.StatusUnauthorized, codeUnauthorized, "Authorization", msg)
}
