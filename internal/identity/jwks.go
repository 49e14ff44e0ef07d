package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Timings of the JWKS cache.
const (
	jwksRefreshInterval   = time.Hour
	jwksUnknownKIDEvery   = 30 * time.Second
	jwksRateLimitWaitMax  = 5 * time.Second
	jwksInitRetryInterval = 5 * time.Second
	minRSABits            = 2048
)

// Sentinel causes returned by key functions; jwt/v5 wraps them in
// ErrTokenUnverifiable and they are mapped to apperr codes in bearer.go.
var (
	errAlgNotAllowed   = errors.New("algorithm not allowed")
	errKeyAlgMismatch  = errors.New("key type does not match the token's algorithm")
	errUnknownKID      = errors.New("unknown signing key")
	errJWKSUnavailable = errors.New("JWKS unavailable")
)

// keyAlgError says why a key cannot verify a token of some algorithm.
type keyAlgError struct {
	alg, kid, why string
}

func (e *keyAlgError) Error() string { return e.why }
func (e *keyAlgError) Unwrap() error { return errKeyAlgMismatch }

// unknownKIDError names the kid that is not in the JWKS.
type unknownKIDError struct {
	kid   string
	noKID bool
	alg   string
	err   error
}

func (e *unknownKIDError) Error() string {
	if e.noKID {
		return "no JWKS key can verify alg " + e.alg
	}
	return fmt.Sprintf("kid %q is not in the JWKS", e.kid)
}
func (e *unknownKIDError) Unwrap() []error { return []error{errUnknownKID, e.err} }

// jwksVerifier fetches the JWKS lazily on first use and keeps it fresh with
// keyfunc's background refresh and its rate-limited refresh on unknown kid.
type jwksVerifier struct {
	url    string
	client *http.Client
	log    *slog.Logger

	refreshErrs atomic.Uint64 // refresh failures since start

	mu       sync.Mutex
	kf       keyfunc.Keyfunc
	stop     context.CancelFunc
	closed   bool
	lastFail time.Time
	lastErr  error
}

func newJWKSVerifier(url string, client *http.Client, log *slog.Logger) *jwksVerifier {
	return &jwksVerifier{url: url, client: client, log: log}
}

// get returns the keyfunc, creating it (one HTTP fetch) on first use. After
// a failed first fetch it retries at most every jwksInitRetryInterval.
func (j *jwksVerifier) get() (keyfunc.Keyfunc, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.kf != nil {
		return j.kf, nil
	}
	if j.closed {
		return nil, errors.New("the identity resolver is closed")
	}
	if j.lastErr != nil && time.Since(j.lastFail) < jwksInitRetryInterval {
		return nil, j.lastErr
	}
	ctx, cancel := context.WithCancel(context.Background())
	noErrFirst := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{j.url}, keyfunc.Override{
		Client:                    j.client,
		HTTPTimeout:               jwksTimeout,
		NoErrorReturnFirstHTTPReq: &noErrFirst,
		RefreshInterval:           jwksRefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
		RateLimitWaitMax:          jwksRateLimitWaitMax,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				j.refreshErrs.Add(1)
				j.log.WarnContext(ctx, "identity: JWKS refresh failed", "url", u, "error", err)
			}
		},
	})
	if err != nil {
		cancel() // stops the refresh goroutine of the failed attempt
		j.lastFail, j.lastErr = time.Now(), err
		return nil, err
	}
	j.kf, j.stop, j.lastErr = kf, cancel, nil
	return kf, nil
}

func (j *jwksVerifier) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	if j.stop != nil {
		j.stop()
		j.stop = nil
	}
	j.kf = nil
}

// keyFunc returns the jwt.Keyfunc that looks the token's kid up in the JWKS
// and checks that the key's type fits the token's algorithm.
func (j *jwksVerifier) keyFunc(ctx context.Context, used *usedKey) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if !isAsymmetric(alg) {
			return nil, errAlgNotAllowed
		}
		kf, err := j.get()
		if err != nil {
			return nil, errors.Join(errJWKSUnavailable, err)
		}
		store := kf.Storage()
		kidAny, hasKID := t.Header["kid"]
		if !hasKID {
			all, err := store.KeyReadAll(ctx)
			if err != nil {
				return nil, errors.Join(errJWKSUnavailable, err)
			}
			var set jwt.VerificationKeySet
			for _, k := range all {
				if key, err := usableKey(k, alg, ""); err == nil {
					set.Keys = append(set.Keys, key)
				}
			}
			if len(set.Keys) == 0 {
				return nil, &unknownKIDError{noKID: true, alg: alg, err: jwkset.ErrKeyNotFound}
			}
			return set, nil
		}
		kid, ok := kidAny.(string)
		if !ok {
			return nil, &unknownKIDError{kid: fmt.Sprint(kidAny), err: errors.New("kid is not a string")}
		}
		k, err := store.KeyRead(ctx, kid)
		if err != nil {
			return nil, &unknownKIDError{kid: kid, err: err}
		}
		key, err := usableKey(k, alg, kid)
		if err == nil {
			used.key, used.kid = k.Key(), kid
		}
		return key, err
	}
}

// stillPublished reports whether the JWKS still holds key under kid: the
// same public key (compared with the keys' own Equal method: an
// ed25519.PublicKey is a slice, which == on interfaces would panic on). So a
// hit of the verified-token cache costs one lookup, and a refresh that
// removes or replaces the key invalidates the cached tokens it verified.
func (j *jwksVerifier) stillPublished(ctx context.Context, kid string, key any) bool {
	kf, err := j.get()
	if err != nil {
		return false
	}
	k, err := kf.Storage().KeyRead(ctx, kid)
	if err != nil {
		return false
	}
	pub, ok := k.Key().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key)
}

// usableKey returns the public key of k if it may verify alg.
func usableKey(k jwkset.JWK, alg, kid string) (any, error) {
	m := k.Marshal()
	if a := m.ALG.String(); a != "" && a != alg {
		return nil, &keyAlgError{alg: alg, kid: kid, why: fmt.Sprintf("JWKS key %q is for alg %s, the token says %s", kid, a, alg)}
	}
	if m.USE == jwkset.UseEnc {
		return nil, &keyAlgError{alg: alg, kid: kid, why: fmt.Sprintf("JWKS key %q is an encryption key (use=enc)", kid)}
	}
	key := k.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	if err := keyFitsAlg(key, alg); err != nil {
		return nil, &keyAlgError{alg: alg, kid: kid, why: fmt.Sprintf("JWKS key %q cannot verify alg %s: %v", kid, alg, err)}
	}
	return key, nil
}

// jwksAlgs are the algorithms accepted with a JWKS.
var jwksAlgs = []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

func isAsymmetric(alg string) bool {
	for _, a := range jwksAlgs {
		if a == alg {
			return true
		}
	}
	return false
}

// keyFitsAlg checks that key is the kind of public key alg needs.
func keyFitsAlg(key any, alg string) error {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256":
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("it is a %s key, not RSA", keyKind(key))
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("the RSA key has %d bits, fewer than %d", k.N.BitLen(), minRSABits)
		}
	case "ES256", "ES384":
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("it is a %s key, not ECDSA", keyKind(key))
		}
		want := elliptic.P256()
		if alg == "ES384" {
			want = elliptic.P384()
		}
		if k.Curve != want {
			return fmt.Errorf("the key's curve is %s, not %s", k.Curve.Params().Name, want.Params().Name)
		}
	case "EdDSA":
		if _, ok := key.(ed25519.PublicKey); !ok {
			return fmt.Errorf("it is a %s key, not Ed25519", keyKind(key))
		}
	default:
		return fmt.Errorf("alg %s is not accepted with a JWKS", alg)
	}
	return nil
}

func keyKind(key any) string {
	switch key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	case []byte:
		return "symmetric"
	}
	return fmt.Sprintf("%T", key)
}
