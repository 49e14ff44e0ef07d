package identity_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
)

func hsConfig() identity.Config {
	return identity.Config{HS256Secret: testSecret, Issuer: "https://idp.example/", Audiences: []string{"api://signalr", "api://other-app"}}
}

func TestBearerHS256Valid(t *testing.T) {
	t.Parallel()
	r := newResolver(t, hsConfig())
	c := baseClaims()
	c["roles"] = []any{"admin", "ops", map[string]any{"nested": 1}}
	c["email_verified"] = true
	c["tenant"] = map[string]any{"id": "t"}
	c["null"] = nil
	c["level"] = 3.5
	tok := sign(t, jwt.SigningMethodHS256, testSecret, "", c)
	p, err := r.Resolve(newRequest(t, "/api/negotiate", bearer(tok)))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := []identity.Claim{
		{Type: "aud", Value: "api://signalr"},
		{Type: "email_verified", Value: "true"},
		{Type: "exp", Value: jsonInt(c["exp"])},
		{Type: "iat", Value: jsonInt(c["iat"])},
		{Type: "iss", Value: "https://idp.example/"},
		{Type: "level", Value: "3.5"},
		{Type: "roles", Value: "admin"},
		{Type: "roles", Value: "ops"},
		{Type: "sub", Value: "alice"},
	}
	if p.UserID != "alice" || p.Source != identity.SourceBearer || !reflect.DeepEqual(p.Claims, want) {
		t.Fatalf("principal %+v\nwant claims %+v", p, want)
	}
	if !p.HasRole("admin") {
		t.Fatal("HasRole(admin) = false")
	}

	// The scheme is case-insensitive.
	if _, err := r.Resolve(newRequest(t, "/", map[string]string{"Authorization": "bearer " + tok})); err != nil {
		t.Fatalf("lower-case scheme: %v", err)
	}
}

func jsonInt(v any) string { return strconv.FormatInt(v.(int64), 10) }

func genOtherRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBearerTokenInQuery(t *testing.T) {
	t.Parallel()
	r := newResolver(t, hsConfig())
	tok := sign(t, jwt.SigningMethodHS256, testSecret, "", baseClaims())
	p, err := r.Resolve(newRequest(t, "/api/negotiate?hub=chat&access_token="+url.QueryEscape(tok), nil))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if p.UserID != "alice" || p.Source != identity.SourceBearer {
		t.Fatalf("got %+v", p)
	}
	// A bad token in the query is an error too, named as coming from there.
	_, err = r.Resolve(newRequest(t, "/api/negotiate?access_token=abc.def", nil))
	ae := wantAppErr(t, err, apperr.CodeAuthMalformedToken, http.StatusUnauthorized)
	wantContains(t, ae.Message, "access_token query parameter")
}

func TestBearerRejections(t *testing.T) {
	t.Parallel()
	now := time.Now()
	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := baseClaims()
		mod(c)
		return c
	}
	otherSecret := []byte("another-secret-that-is-long-enough-32b")
	cases := []struct {
		name  string
		tok   func(t *testing.T) string
		code  string
		wants []string
	}{
		{"expired", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Minute).Unix() }))
		}, apperr.CodeAuthTokenExpired, []string{"expired 10m", "leeway 1m0s"}},
		{"not yet valid", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(30 * time.Minute).Unix() }))
		}, apperr.CodeAuthTokenNotYet, []string{"not valid for another 29m"}},
		{"wrong audience", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { c["aud"] = []any{"api://someone-else"} }))
		}, apperr.CodeAuthInvalidAudience, []string{`["api://someone-else"]`, `["api://signalr", "api://other-app"]`}},
		{"missing audience", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { delete(c, "aud") }))
		}, apperr.CodeAuthInvalidAudience, []string{"no aud claim", `"api://signalr"`}},
		{"wrong issuer", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" }))
		}, apperr.CodeAuthInvalidIssuer, []string{`"https://evil.example/"`, `"https://idp.example/"`}},
		{"missing issuer", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { delete(c, "iss") }))
		}, apperr.CodeAuthInvalidIssuer, []string{"no iss claim"}},
		{"bad signature", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, otherSecret, "", baseClaims())
		}, apperr.CodeAuthInvalidSig, []string{"HS256 signature does not verify", "HS256 secret"}},
		{"alg none", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", baseClaims())
		}, apperr.CodeAuthAlgorithm, []string{`"none"`, "never accepted"}},
		{"alg HS512", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS512, testSecret, "", baseClaims())
		}, apperr.CodeAuthAlgorithm, []string{`"HS512"`, "allowed: HS256"}},
		{"missing exp", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { delete(c, "exp") }))
		}, apperr.CodeAuthMalformedToken, []string{"no exp claim"}},
		{"exp wrong type", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }))
		}, apperr.CodeAuthMalformedToken, []string{"wrong type"}},
		{"missing sub", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { delete(c, "sub") }))
		}, apperr.CodeAuthMalformedToken, []string{`no "sub" claim`}},
		{"sub not a string", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, "", with(func(c jwt.MapClaims) { c["sub"] = []any{"a"} }))
		}, apperr.CodeAuthMalformedToken, []string{`"sub" claim`, "not a string"}},
		{"two segments", func(t *testing.T) string { return "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0" },
			apperr.CodeAuthMalformedToken, []string{"3 dot-separated parts", "has 2"}},
		{"garbage segments", func(t *testing.T) string { return "!!!.???.***" },
			apperr.CodeAuthMalformedToken, []string{"not a well-formed JWT"}},
		{"empty", func(t *testing.T) string { return "" }, apperr.CodeAuthMalformedToken, []string{"is empty"}},
		{"huge", func(t *testing.T) string { return strings.Repeat("a", identity.MaxBearerTokenLen) + ".b.c" },
			apperr.CodeAuthMalformedToken, []string{"bytes long"}},
	}
	// AllowAnonymous is on: a presented bad token must still fail.
	cfg := hsConfig()
	cfg.AllowAnonymous = true
	r := newResolver(t, cfg)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.tok(t)
			_, err := r.Resolve(newRequest(t, "/api/negotiate", bearer(tok)))
			ae := wantAppErr(t, err, tc.code, http.StatusUnauthorized)
			wantContains(t, ae.Message, tc.wants...)
			if len(tok) > 10 && strings.Contains(ae.Message, tok) {
				t.Fatalf("message echoes the token: %q", ae.Message)
			}
			if sig := tok[strings.LastIndex(tok, ".")+1:]; len(sig) > 10 && strings.Contains(ae.Error(), sig) {
				t.Fatalf("error text contains the token's signature: %q", ae.Error())
			}
		})
	}
}

func TestBearerLeewayAndCustomUserIDClaim(t *testing.T) {
	t.Parallel()
	cfg := hsConfig()
	cfg.Leeway = 2 * time.Minute
	cfg.UserIDClaim = "oid"
	r := newResolver(t, cfg)
	c := baseClaims()
	c["exp"] = time.Now().Add(-90 * time.Second).Unix() // within the 2m leeway
	c["oid"] = "object-1"
	p, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", c))))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if p.UserID != "object-1" {
		t.Fatalf("UserID = %q, want object-1 (from oid)", p.UserID)
	}
	delete(c, "oid")
	_, err = r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", c))))
	ae := wantAppErr(t, err, apperr.CodeAuthMalformedToken, http.StatusUnauthorized)
	wantContains(t, ae.Message, `"oid"`)
}

func TestBearerIgnoredWithoutVerifier(t *testing.T) {
	t.Parallel()
	log, buf := captureLogger()
	tok := sign(t, jwt.SigningMethodHS256, testSecret, "", baseClaims())

	r := newResolver(t, identity.Config{AllowAnonymous: true, Logger: log})
	p, err := r.Resolve(newRequest(t, "/", bearer(tok)))
	if err != nil || p.Source != identity.SourceAnonymous || p.UserID != "" {
		t.Fatalf("got %+v, %v; want anonymous", p, err)
	}
	out := buf.String()
	wantContains(t, out, "level=DEBUG", "ignoring a bearer token")
	if strings.Contains(out, tok) || strings.Contains(out, "level=WARN") {
		t.Fatalf("unexpected log: %s", out)
	}

	r2 := newResolver(t, identity.Config{Logger: log})
	_, err = r2.Resolve(newRequest(t, "/", bearer(tok)))
	ae := wantAppErr(t, err, apperr.CodeNegotiateUnauthenticated, http.StatusUnauthorized)
	wantContains(t, ae.Message, "no JWKS URL or HS256 secret")
}

func TestBearerJWKS(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-1", &k.rsa.PublicKey), ecJWK(t, "ec-1", &k.ec.PublicKey))
	r := newResolver(t, identity.Config{JWKSURL: srv.URL + "/keys", Audiences: []string{"api://signalr"}})
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("New fetched the JWKS %d times; it must be lazy", n)
	}

	rs := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", baseClaims())
	p, err := r.Resolve(newRequest(t, "/", bearer(rs)))
	if err != nil {
		t.Fatalf("RS256: %v", err)
	}
	if p.UserID != "alice" || p.Source != identity.SourceBearer {
		t.Fatalf("RS256 principal %+v", p)
	}
	c := baseClaims()
	c["sub"] = "bob"
	es := sign(t, jwt.SigningMethodES256, k.ec, "ec-1", c)
	p, err = r.Resolve(newRequest(t, "/", bearer(es)))
	if err != nil {
		t.Fatalf("ES256: %v", err)
	}
	if p.UserID != "bob" {
		t.Fatalf("ES256 principal %+v", p)
	}
	// Without a kid every JWKS key of the right type is tried.
	p, err = r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodES256, k.ec, "", baseClaims()))))
	if err != nil || p.UserID != "alice" {
		t.Fatalf("ES256 without kid: %+v %v", p, err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for three tokens with known keys, want 1", n)
	}

	// Signature by a key that is not the JWKS's.
	other := genOtherRSA(t)
	_, err = r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodRS256, other, "rsa-1", baseClaims()))))
	ae := wantAppErr(t, err, apperr.CodeAuthInvalidSig, http.StatusUnauthorized)
	wantContains(t, ae.Message, `JWKS key "rsa-1"`)

	// ES256 token pointing at the RSA key: key type must match the alg.
	_, err = r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodES256, k.ec, "rsa-1", baseClaims()))))
	ae = wantAppErr(t, err, apperr.CodeAuthAlgorithm, http.StatusUnauthorized)
	wantContains(t, ae.Message, "ES256", "rsa-1")
}

func TestBearerJWKSUnknownKIDRefreshes(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	srv := newJWKSServer(t, ecJWK(t, "ec-1", &k.ec.PublicKey))
	r := newResolver(t, identity.Config{JWKSURL: srv.URL})

	_, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, "rotated-key", baseClaims()))))
	ae := wantAppErr(t, err, apperr.CodeAuthUnknownKey, http.StatusUnauthorized)
	wantContains(t, ae.Message, `kid "rotated-key"`)
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("JWKS hits = %d, want 2 (first use + one refresh for the unknown kid)", n)
	}
	// The provider rotates; the rate limiter allows the next refresh only
	// later, so a second unknown kid right away does not hit the server.
	srv.setKeys(ecJWK(t, "ec-1", &k.ec.PublicKey), rsaJWK("rotated-key", &k.rsa.PublicKey))
	_, err = r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, "another", baseClaims()))))
	wantAppErr(t, err, apperr.CodeAuthUnknownKey, http.StatusUnauthorized)
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("JWKS hits = %d after a rate-limited unknown kid, want still 2", n)
	}
}

func TestBearerAlgorithmConfusion(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-1", &k.rsa.PublicKey))
	r := newResolver(t, identity.Config{JWKSURL: srv.URL, AllowAnonymous: true})
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for name, key := range map[string][]byte{"pem": pemBytes, "der": der, "n": k.rsa.PublicKey.N.Bytes()} {
		tok := sign(t, jwt.SigningMethodHS256, key, "rsa-1", baseClaims())
		_, err := r.Resolve(newRequest(t, "/", bearer(tok)))
		ae := wantAppErr(t, err, apperr.CodeAuthAlgorithm, http.StatusUnauthorized)
		wantContains(t, ae.Message, `"HS256"`, "RS256")
		if testing.Verbose() {
			t.Logf("%s: %s", name, ae.Message)
		}
	}
	// alg none against a JWKS config as well.
	_, err = r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", baseClaims()))))
	wantAppErr(t, err, apperr.CodeAuthAlgorithm, http.StatusUnauthorized)
}

func TestBearerJWKSUnavailable(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-1", &k.rsa.PublicKey))
	srv.status.Store(http.StatusInternalServerError)
	r := newResolver(t, identity.Config{JWKSURL: srv.URL})
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", baseClaims())
	_, err := r.Resolve(newRequest(t, "/", bearer(tok)))
	wantAppErr(t, err, apperr.CodeAuthJWKSUnavailable, http.StatusServiceUnavailable)
	// Within the retry interval the failure is remembered, not refetched.
	_, err = r.Resolve(newRequest(t, "/", bearer(tok)))
	wantAppErr(t, err, apperr.CodeAuthJWKSUnavailable, http.StatusServiceUnavailable)
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS hits = %d, want 1", n)
	}
	// After Close, tokens cannot be verified any more.
	srv.status.Store(http.StatusOK)
	r.Close()
	_, err = r.Resolve(newRequest(t, "/", bearer(tok)))
	wantAppErr(t, err, apperr.CodeAuthJWKSUnavailable, http.StatusServiceUnavailable)
}

func TestBearerJWKSEdDSAAndConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64(pub)})
	r := newResolver(t, identity.Config{JWKSURL: srv.URL, Issuer: "https://idp.example/"})
	tok := sign(t, jwt.SigningMethodEdDSA, priv, "ed-1", baseClaims())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			p, err := r.Resolve(newRequest(t, "/", bearer(tok)))
			if err == nil && p.UserID != "alice" {
				err = fmt.Errorf("UserID = %q", p.UserID)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("EdDSA: %v", err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times by 8 concurrent first uses, want 1", n)
	}
	// A later use is a verified-token cache hit, which checks the key is
	// still published: an Ed25519 key is a slice and must not be compared
	// with == (that panicked).
	if p, err := r.Resolve(newRequest(t, "/", bearer(tok))); err != nil || p.UserID != "alice" {
		t.Fatalf("EdDSA cache hit: %+v, %v", p, err)
	}
}

func TestBearerJWKSOverTLSAndBodyCap(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	body, err := json.Marshal(map[string]any{"keys": []map[string]string{rsaJWK("rsa-1", &k.rsa.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	huge := false
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if huge {
			w.Write([]byte(`{"keys":[],"pad":"`))
			w.Write(bytes.Repeat([]byte("x"), 2<<20))
			w.Write([]byte(`"}`))
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", baseClaims())

	r := newResolver(t, identity.Config{JWKSURL: srv.URL + "/.well-known/jwks.json", HTTPClient: srv.Client()})
	if p, err := r.Resolve(newRequest(t, "/", bearer(tok))); err != nil || p.UserID != "alice" {
		t.Fatalf("JWKS over TLS: %+v %v", p, err)
	}

	huge = true
	r2 := newResolver(t, identity.Config{JWKSURL: srv.URL, HTTPClient: srv.Client()})
	_, err = r2.Resolve(newRequest(t, "/", bearer(tok)))
	wantAppErr(t, err, apperr.CodeAuthJWKSUnavailable, http.StatusServiceUnavailable)

	// The default client does not trust the test certificate: a TLS
	// failure is jwks_unavailable, not a 500.
	r3 := newResolver(t, identity.Config{JWKSURL: srv.URL})
	_, err = r3.Resolve(newRequest(t, "/", bearer(tok)))
	wantAppErr(t, err, apperr.CodeAuthJWKSUnavailable, http.StatusServiceUnavailable)
}
