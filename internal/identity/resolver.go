package identity

import (
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// DevUserIDHeader is the header through which a client may choose its user
// id when Config.DevAllowClientUserID is set. Never trusted otherwise.
const DevUserIDHeader = "X-Ms-Signalr-Userid"

// maxDevUserIDLen is the longest user id accepted from DevUserIDHeader.
const maxDevUserIDLen = 256

// Resolver decides who the caller of a request is. It is safe for
// concurrent use. Create it with [New] and stop it with [Resolver.Close].
type Resolver struct {
	cfg    Config
	log    *slog.Logger
	parser *jwt.Parser
	algs   []string
	jwks   *jwksVerifier
	cache  *verifiedCache
	copied *ClaimFilter // Config.ClaimTypes
	// canonical EasyAuth header keys, for allocation-free lookups
	eaKeys [len(easyAuthHeaders)]string
	// forged counts ignored EasyAuth headers; forgedLogged is the unix
	// second of the last warning, so a flood of forged headers yields one
	// warn line per minute (with the count) instead of one per request.
	forged       atomic.Int64
	forgedLogged atomic.Int64
}

// forgedWarnEvery bounds the forged-EasyAuth warnings.
const forgedWarnEvery = 60 // seconds

// New validates cfg and returns a Resolver. Configuration errors are
// *apperr.Error with code config.identity. New makes no network call: the
// JWKS, if configured, is fetched on the first bearer token.
func New(cfg Config) (*Resolver, error) {
	c, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	r := &Resolver{cfg: c, log: c.Logger, cache: newVerifiedCache(), copied: NewClaimFilter(c.ClaimTypes)}
	for i, h := range easyAuthHeaders {
		r.eaKeys[i] = http.CanonicalHeaderKey(h)
	}
	switch {
	case c.JWKSURL != "":
		r.algs = jwksAlgs
		r.jwks = newJWKSVerifier(c.JWKSURL, c.HTTPClient, c.Logger)
	case len(c.HS256Secret) > 0:
		r.algs = []string{"HS256"}
	}
	if r.algs != nil {
		opts := []jwt.ParserOption{
			jwt.WithValidMethods(r.algs),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(c.Leeway),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(r.now),
		}
		if c.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(c.Issuer))
		}
		if len(c.Audiences) > 0 {
			opts = append(opts, jwt.WithAudience(c.Audiences...))
		}
		r.parser = jwt.NewParser(opts...)
	}
	return r, nil
}

// Close stops the background JWKS refresh. Bearer tokens are refused with
// auth.jwks_unavailable after Close when a JWKS is configured.
func (r *Resolver) Close() {
	if r.jwks != nil {
		r.jwks.close()
	}
}

// Resolve returns the caller of req. Precedence: trusted EasyAuth principal,
// valid bearer token, dev header (when enabled), anonymous (when allowed).
// A presented but invalid credential is an *apperr.Error with a 401 code
// (auth.*), or auth.jwks_unavailable (503) when the JWKS cannot be fetched;
// no credential with anonymous access refused is negotiate.unauthenticated.
func (r *Resolver) Resolve(req *http.Request) (Principal, error) {
	ctx := req.Context()
	h := req.Header
	ignoredEasyAuth := false
	if r.cfg.TrustEasyAuth {
		p, ok, err := easyAuthPrincipal(h)
		if err != nil {
			return Principal{}, err
		}
		if ok {
			p.Copied = r.copied.Select(p.Claims)
			return p, nil
		}
	} else if r.hasEasyAuthHeaders(h) {
		ignoredEasyAuth = true
		n := r.forged.Add(1)
		now := r.now().Unix()
		if last := r.forgedLogged.Load(); now-last >= forgedWarnEvery && r.forgedLogged.CompareAndSwap(last, now) {
			r.log.WarnContext(ctx, "identity: ignoring App Service Authentication headers: EasyAuth is not trusted (WEBSITE_AUTH_ENABLED is not true), so they may be forged",
				"headers", presentEasyAuthHeaders(h), "ignoredSoFar", n)
		} else {
			r.log.DebugContext(ctx, "identity: ignoring App Service Authentication headers (untrusted)", "headers", presentEasyAuthHeaders(h))
		}
	}

	ignoredBearer := false
	if tok, from, ok := bearerToken(req); ok {
		if r.parser != nil {
			return r.verifyBearer(ctx, tok, from)
		}
		ignoredBearer = true
		r.log.DebugContext(ctx, "identity: ignoring a bearer token: no JWKS URL or HS256 secret is configured to verify it", "from", string(from))
	}

	if r.cfg.DevAllowClientUserID {
		if vs := h[DevUserIDHeader]; len(vs) > 0 {
			uid := strings.TrimSpace(vs[0])
			if err := checkDevUserID(uid); err != nil {
				return Principal{}, err
			}
			return Principal{UserID: uid, Source: SourceDev}, nil
		}
	}

	if r.cfg.AllowAnonymous {
		return Principal{Source: SourceAnonymous}, nil
	}
	msg := "The request carries no credentials and anonymous access is disabled."
	if ignoredBearer {
		msg += " A bearer token was sent but no JWKS URL or HS256 secret is configured to verify it, so it was ignored."
	}
	if ignoredEasyAuth {
		msg += " X-MS-CLIENT-PRINCIPAL headers were ignored because App Service Authentication is not trusted."
	}
	return Principal{}, apperr.New(apperr.CodeNegotiateUnauthenticated, msg,
		"Pass the user's token with accessTokenFactory in @microsoft/signalr (sent as `Authorization: Bearer` to negotiate), or enable App Service Authentication; or set ALLOW_ANONYMOUS=true.")
}

func (r *Resolver) hasEasyAuthHeaders(h http.Header) bool {
	for _, k := range r.eaKeys {
		if len(h[k]) > 0 {
			return true
		}
	}
	return false
}

func checkDevUserID(uid string) error {
	bad := func(why string) error {
		return apperr.New(apperr.CodeAuthMalformedToken, "The "+DevUserIDHeader+" header "+why+".",
			"Send a user id of 1 to 256 printable characters in "+DevUserIDHeader+" (development only).")
	}
	switch {
	case uid == "":
		return bad("is empty")
	case len(uid) > maxDevUserIDLen:
		return bad("is longer than 256 bytes")
	}
	return checkUserID(uid, "The "+DevUserIDHeader+" header")
}

// now is the resolver's clock.
func (r *Resolver) now() time.Time {
	if r.cfg.Now != nil {
		return r.cfg.Now()
	}
	return time.Now()
}
