package identity

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/netutil"
)

// Defaults and bounds of [Config].
const (
	// DefaultLeeway is the exp/nbf leeway used when Config.Leeway is zero.
	DefaultLeeway = 60 * time.Second
	// MaxLeeway is the largest accepted Config.Leeway.
	MaxLeeway = 5 * time.Minute
	// MinHS256SecretLen is the shortest accepted Config.HS256Secret, in bytes.
	MinHS256SecretLen = 32
	// DefaultUserIDClaim is the bearer claim giving the user id when
	// Config.UserIDClaim is empty.
	DefaultUserIDClaim = "sub"

	jwksTimeout      = 10 * time.Second
	maxJWKSBodyBytes = 1 << 20
)

// Config configures a [Resolver].
type Config struct {
	// TrustEasyAuth trusts the X-MS-CLIENT-PRINCIPAL* headers. Set it when
	// WEBSITE_AUTH_ENABLED=true (App Service Authentication strips these
	// headers from external requests) or by an explicit setting.
	TrustEasyAuth bool
	// JWKSURL verifies bearer tokens with the keys of this JWKS (asymmetric
	// algorithms only). It must be https unless its host is loopback. The
	// JWKS is fetched on first use, refreshed hourly and, rate-limited, when
	// a token names an unknown kid.
	JWKSURL string
	// HS256Secret verifies bearer tokens with this shared secret (HS256
	// only). At least 32 bytes. Mutually exclusive with JWKSURL.
	HS256Secret []byte
	// Issuer, when set, is the required iss of bearer tokens.
	Issuer string
	// Audiences, when set, are the accepted aud values (any match).
	Audiences []string
	// Leeway is the clock skew allowed for exp and nbf: 0 means
	// [DefaultLeeway]; at most [MaxLeeway].
	Leeway time.Duration
	// UserIDClaim is the bearer claim giving the user id ("sub" when empty).
	UserIDClaim string
	// AllowAnonymous lets requests without credentials through as
	// anonymous principals.
	AllowAnonymous bool
	// DevAllowClientUserID lets the client choose its user id with the
	// x-ms-signalr-userid header. Development only.
	DevAllowClientUserID bool
	// HTTPClient fetches the JWKS; nil means a client with TLS >= 1.2 and
	// timeouts. Response bodies are capped at 1 MiB either way.
	HTTPClient *http.Client
	// ClaimTypes are the claim types copied into the SignalR token (the
	// extension's ClaimTypeList): Principal.Copied holds the caller's
	// claims of these types, selected once per verified bearer token.
	ClaimTypes []string
	// Now is the clock for exp, nbf and iat; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings (forged EasyAuth headers, JWKS refresh
	// failures) and debug events; nil means slog.Default().
	Logger *slog.Logger
}

func configErr(format string, args ...any) error {
	return apperr.Errorf(apperr.CodeConfigIdentity, format, args...)
}

// validate checks c and returns a copy with defaults applied.
func (c Config) validate() (Config, error) {
	if c.JWKSURL != "" && len(c.HS256Secret) > 0 {
		return c, configErr("both a JWKS URL and an HS256 secret are configured for bearer tokens; set only one")
	}
	if len(c.HS256Secret) > 0 && len(c.HS256Secret) < MinHS256SecretLen {
		return c, configErr("the HS256 secret is %d bytes long; at least %d bytes are required", len(c.HS256Secret), MinHS256SecretLen)
	}
	if c.JWKSURL != "" {
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			return c, err
		}
	}
	switch {
	case c.Leeway < 0:
		return c, configErr("the token leeway %v is negative", c.Leeway)
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway > MaxLeeway:
		return c, configErr("the token leeway %v is larger than the maximum %v", c.Leeway, MaxLeeway)
	}
	if c.UserIDClaim == "" {
		c.UserIDClaim = DefaultUserIDClaim
	}
	for i, a := range c.Audiences {
		if strings.TrimSpace(a) == "" {
			return c, configErr("accepted audience #%d is empty", i+1)
		}
	}
	c.Audiences = append([]string(nil), c.Audiences...)
	c.HS256Secret = append([]byte(nil), c.HS256Secret...)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.HTTPClient = jwksClient(c.HTTPClient)
	return c, nil
}

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return configErr("the JWKS URL %q is not an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return configErr("the JWKS URL must not carry credentials")
	}
	if u.Scheme == "http" && !netutil.IsLoopback(u.Hostname()) {
		return configErr("the JWKS URL %q must use https (plain http is accepted only for loopback hosts)", u.Redacted())
	}
	return nil
}

// jwksClient returns a copy of c (or a default client) whose transport caps
// response bodies and which refuses redirects from https to http.
func jwksClient(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	} else {
		out = http.Client{
			Timeout: jwksTimeout,
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout:   5 * time.Second,
				ResponseHeaderTimeout: jwksTimeout,
				IdleConnTimeout:       90 * time.Second,
				MaxIdleConns:          4,
				ForceAttemptHTTP2:     true,
			},
		}
	}
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = limitTransport{base}
	next := out.CheckRedirect
	out.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return errors.New("refusing a redirect from https to " + req.URL.Scheme)
		}
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &out
}

// limitTransport caps response bodies at maxJWKSBodyBytes.
type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, maxJWKSBodyBytes+1), c: resp.Body}
	return resp, nil
}

type limitedBody struct {
	r io.Reader
	c io.Closer
	n int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > maxJWKSBodyBytes {
		return n, fmt.Errorf("JWKS response is larger than %d bytes", maxJWKSBodyBytes)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }
