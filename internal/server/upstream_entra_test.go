package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// TestUpstreamEntraEndpoint: an endpoint without AccessKey (Microsoft Entra
// ID) cannot check signatures; the upstream's managed-identity bearer token
// is verified against a JWKS (served on loopback), issuer and audience, or
// the call is refused unless UPSTREAM_ALLOW_UNSIGNED is set.
func TestUpstreamEntraEndpoint(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	}))
	defer jwks.Close()
	const iss, aud = "https://login.microsoftonline.com/tenant/v2.0", "api://signalr-upstream"
	token := func(aud string) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": iss, "aud": aud, "sub": "service-identity", "exp": time.Now().Add(time.Hour).Unix()})
		tk.Header["kid"] = "k1"
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	entra := "Endpoint=http://127.0.0.1:1;AuthType=azure.msi;Version=1.0;"
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": entra,
		"UPSTREAM_TOKEN_ISSUER": iss, "UPSTREAM_TOKEN_AUDIENCE": aud, "UPSTREAM_JWKS_URL": jwks.URL})
	call := func(base, bearer string) (int, []byte) {
		hdr := map[string]string{"Content-Type": "application/json", "X-ASRS-Connection-Id": "c1", "X-ASRS-Hub": "chat",
			"X-ASRS-Category": "messages", "X-ASRS-Event": "nope"}
		if bearer != "" {
			hdr["Authorization"] = "Bearer " + bearer
		}
		st, _, b := do(t, "POST", base+"/api/upstream", invocation("1", "nope"), hdr)
		return st, b
	}
	st, b := call(h.URL, token(aud))
	if c := wantCompletion(t, st, b); c.Error == "" {
		t.Fatalf("a valid managed-identity token must reach the hub: %+v", c)
	}
	st, b = call(h.URL, token("api://someone-else"))
	wantError(t, st, b, 401, apperr.CodeUpstreamTokenInvalid)
	st, b = call(h.URL, "")
	wantError(t, st, b, 401, apperr.CodeUpstreamUnauthenticated)

	// Without token settings an Entra endpoint's calls are refused, saying why.
	bare := newHandler(t, map[string]string{"AzureSignalRConnectionString": entra})
	st, b = call(bare.URL, "")
	wantError(t, st, b, 401, apperr.CodeUpstreamUnauthenticated)
	// Unless unsigned calls are explicitly allowed (development only).
	dev := newHandler(t, map[string]string{"AzureSignalRConnectionString": entra, "UPSTREAM_ALLOW_UNSIGNED": "true"})
	st, b = call(dev.URL, "")
	wantCompletion(t, st, b)
}
