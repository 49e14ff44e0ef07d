package identity_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// TestVerifiedCacheRechecksTime: a verified token is answered from the
// cache without allocating, and each hit re-checks exp against the clock
// with the leeway. (Not parallel: AllocsPerRun.)
func TestVerifiedCacheRechecksTime(t *testing.T) {
	clock := testutil.NewClock(time.Now())
	cfg := hsConfig()
	cfg.Now = clock.Now
	cfg.ClaimTypes = []string{"roles"}
	r := newResolver(t, cfg)
	c := baseClaims()
	c["exp"] = clock.Now().Add(10 * time.Minute).Unix()
	c["roles"] = []any{"a", "b"}
	tok := sign(t, jwt.SigningMethodHS256, testSecret, "", c)
	first, err := r.Resolve(newRequest(t, "/", bearer(tok)))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := identity.CacheLen(r); n != 1 {
		t.Fatalf("%d cached tokens after one success, want 1", n)
	}
	req := newRequest(t, "/", bearer(tok))
	if allocs := testing.AllocsPerRun(50, func() { r.Resolve(req) }); allocs > 0 {
		t.Errorf("a cache hit allocates %v times", allocs)
	}
	again, err := r.Resolve(req)
	if err != nil || again.UserID != first.UserID || len(again.Claims) != len(first.Claims) {
		t.Fatalf("hit = %+v %v, want %+v", again, err, first)
	}
	if want := []identity.Claim{{Type: "roles", Value: "a"}, {Type: "roles", Value: "b"}}; !slices.Equal(again.Copied, want) || !slices.Equal(first.Copied, want) {
		t.Errorf("Copied = %v / %v, want the claims of Config.ClaimTypes %v", first.Copied, again.Copied, want)
	}

	clock.Advance(10*time.Minute + 30*time.Second) // past exp, within the 60s leeway
	if _, err := r.Resolve(req); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	clock.Advance(time.Minute) // past exp + leeway
	_, err = r.Resolve(req)
	ae := wantAppErr(t, err, apperr.CodeAuthTokenExpired, http.StatusUnauthorized)
	wantContains(t, ae.Message, "expired 1m30s ago")
	if n, _ := identity.CacheLen(r); n != 0 {
		t.Errorf("%d cached tokens after expiry, want 0", n)
	}
}

// TestVerifiedCacheOnlySuccesses: refused tokens never enter the cache,
// and a token that is not valid yet is refused until its nbf, then cached.
func TestVerifiedCacheOnlySuccesses(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Now())
	cfg := hsConfig()
	cfg.Now = clock.Now
	r := newResolver(t, cfg)
	bad := baseClaims()
	bad["aud"] = "api://elsewhere"
	for range 3 {
		_, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", bad))))
		wantAppErr(t, err, apperr.CodeAuthInvalidAudience, http.StatusUnauthorized)
	}
	_, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, []byte("another-secret-that-is-long-enough-32b"), "", baseClaims()))))
	wantAppErr(t, err, apperr.CodeAuthInvalidSig, http.StatusUnauthorized)
	later := baseClaims()
	later["nbf"] = clock.Now().Add(10 * time.Minute).Unix()
	tok := sign(t, jwt.SigningMethodHS256, testSecret, "", later)
	_, err = r.Resolve(newRequest(t, "/", bearer(tok)))
	wantAppErr(t, err, apperr.CodeAuthTokenNotYet, http.StatusUnauthorized)
	if n, _ := identity.CacheLen(r); n != 0 {
		t.Fatalf("%d cached tokens after only refusals", n)
	}
	clock.Advance(10 * time.Minute)
	if _, err := r.Resolve(newRequest(t, "/", bearer(tok))); err != nil {
		t.Fatalf("after nbf: %v", err)
	}
	if n, _ := identity.CacheLen(r); n != 1 {
		t.Errorf("%d cached tokens, want 1", n)
	}
}

// TestVerifiedCacheEmptiedWhenKeysChange: a token verified with a JWKS key
// is refused once a refreshed JWKS no longer publishes that key, although it
// was cached.
func TestVerifiedCacheEmptiedWhenKeysChange(t *testing.T) {
	t.Parallel()
	k := genKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-1", &k.rsa.PublicKey))
	r := newResolver(t, identity.Config{JWKSURL: srv.URL, Audiences: []string{"api://signalr"}})
	old := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", baseClaims())
	if _, err := r.Resolve(newRequest(t, "/", bearer(old))); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(newRequest(t, "/", bearer(old))); err != nil {
		t.Fatal(err)
	}
	if n, _ := identity.CacheLen(r); n != 1 {
		t.Fatalf("%d cached tokens, want 1", n)
	}
	// The provider rotates rsa-1 out; a token with the new kid makes the
	// resolver refresh the JWKS.
	srv.setKeys(ecJWK(t, "ec-2", &k.ec.PublicKey))
	if _, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodES256, k.ec, "ec-2", baseClaims())))); err != nil {
		t.Fatalf("new key: %v", err)
	}
	_, err := r.Resolve(newRequest(t, "/", bearer(old)))
	wantAppErr(t, err, apperr.CodeAuthUnknownKey, http.StatusUnauthorized)
	if n, _ := identity.CacheLen(r); n != 0 {
		t.Errorf("%d cached tokens after the keys changed, want 0 (emptied, the old token not re-entered)", n)
	}
}

// TestVerifiedCacheBounds: the cache never holds more than its token and
// byte bounds, expired entries go first, and concurrent use is safe.
func TestVerifiedCacheBounds(t *testing.T) {
	t.Parallel()
	r := newResolver(t, hsConfig())
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range identity.MaxCachedTokens / 2 {
				identity.CachePut(r, "tok-"+strconv.Itoa(w)+"-"+strconv.Itoa(i), nil, exp)
			}
		})
	}
	wg.Wait()
	if n, _ := identity.CacheLen(r); n > identity.MaxCachedTokens {
		t.Errorf("%d tokens cached, bound %d", n, identity.MaxCachedTokens)
	}
	big := []identity.Claim{{Type: "blob", Value: strings.Repeat("x", 100<<10)}}
	for i := range 200 {
		identity.CachePut(r, "big-"+strconv.Itoa(i), big, exp)
	}
	if _, b := identity.CacheLen(r); b > identity.MaxCachedBytes {
		t.Errorf("%d bytes cached, bound %d", b, identity.MaxCachedBytes)
	}
	identity.CachePut(r, "expired", nil, time.Now().Add(-time.Hour))
	identity.CachePut(r, strings.Repeat("h", 9<<10), nil, exp) // a huge token is not cached
	n, b := identity.CacheLen(r)
	if n == 0 || b > identity.MaxCachedBytes {
		t.Errorf("after more puts: %d tokens, %d bytes", n, b)
	}
}
