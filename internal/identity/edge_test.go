package identity_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
)

// badUserIDs are user ids with a control or format character: each must be
// refused wherever the user id comes from.
var badUserIDs = map[string]string{
	"NUL": "a\x00b", "CR LF": "a\r\nb", "ESC": "a\x1b[31mb", "DEL": "a\x7fb", "C1 NEL": "a\u0085b",
	"U+2028": "a\u2028b", "U+2029": "a\u2029b", "RLO U+202E": "admin\u202Enimda", "LRI U+2066": "a\u2066b",
	"PDI U+2069": "a\u2069b", "ZWSP U+200B": "a\u200Bb", "BOM U+FEFF": "\uFEFFadmin", "invalid UTF-8": "a\xffb",
}

// TestUserIDControlAndFormatCharacters: a bearer sub, an EasyAuth
// principal id and the dev header with such a character are refused with
// 401 auth.invalid_user_id; printable non-ASCII ids pass.
func TestUserIDControlAndFormatCharacters(t *testing.T) {
	t.Parallel()
	cfg := hsConfig()
	cfg.AllowAnonymous = true
	cfg.TrustEasyAuth = true
	cfg.DevAllowClientUserID = true
	r := newResolver(t, cfg)
	for name, uid := range badUserIDs {
		if name != "invalid UTF-8" { // JSON cannot carry it: encoders and decoders turn it into U+FFFD
			c := baseClaims()
			c["sub"] = uid
			_, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", c))))
			ae := wantAppErr(t, err, apperr.CodeAuthInvalidUserID, http.StatusUnauthorized)
			wantContains(t, ae.Message, `"sub" claim`)
		}

		req := newRequest(t, "/", nil)
		req.Header.Set(identity.HeaderClientPrincipalID, uid)
		_, err := r.Resolve(req)
		wantAppErr(t, err, apperr.CodeAuthInvalidUserID, http.StatusUnauthorized)

		if name != "invalid UTF-8" {
			cp, _ := json.Marshal(map[string]any{"auth_typ": "aad", "claims": []map[string]string{{"typ": identity.ClaimTypeNameIdentifier, "val": uid}}})
			req = newRequest(t, "/", nil)
			req.Header.Set(identity.HeaderClientPrincipal, base64.StdEncoding.EncodeToString(cp))
			_, err = r.Resolve(req)
			wantAppErr(t, err, apperr.CodeAuthInvalidUserID, http.StatusUnauthorized)
		}

		req = newRequest(t, "/", nil) // in-process: net/http's server refuses CR, LF and NUL in headers before this
		req.Header.Set(identity.DevUserIDHeader, uid)
		_, err = r.Resolve(req)
		wantAppErr(t, err, apperr.CodeAuthInvalidUserID, http.StatusUnauthorized)
	}
	for _, ok := range []string{"José Müller", "用户-42", "a b", "مستخدم"} {
		c := baseClaims()
		c["sub"] = ok
		p, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", c))))
		if err != nil || p.UserID != ok {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

// TestIssuedInTheFuture: iat beyond the leeway in the future is refused as
// not yet valid; within the leeway it passes.
func TestIssuedInTheFuture(t *testing.T) {
	t.Parallel()
	r := newResolver(t, hsConfig()) // leeway 60s
	c := baseClaims()
	c["iat"] = time.Now().Add(time.Hour).Unix()
	c["exp"] = time.Now().Add(2 * time.Hour).Unix()
	_, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", c))))
	ae := wantAppErr(t, err, apperr.CodeAuthTokenNotYet, http.StatusUnauthorized)
	wantContains(t, ae.Message, "issued", "in the future", "iat")

	c["iat"] = time.Now().Add(30 * time.Second).Unix()
	if _, err := r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", c)))); err != nil {
		t.Errorf("iat 30s ahead, within the leeway: %v", err)
	}
	c["iat"] = "yesterday"
	_, err = r.Resolve(newRequest(t, "/", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", c))))
	wantAppErr(t, err, apperr.CodeAuthMalformedToken, http.StatusUnauthorized)
}

// TestCriticalHeader: a token whose header has crit (any extension: this
// handler understands none) is refused, per RFC 7515 §4.1.11, even when
// its signature verifies.
func TestCriticalHeader(t *testing.T) {
	t.Parallel()
	r := newResolver(t, hsConfig())
	for name, crit := range map[string]any{"unknown": []any{"http://example.com/ext"}, "b64": []any{"b64"}, "empty": []any{}, "not a list": "exp"} {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, baseClaims())
		tok.Header["crit"] = crit
		if s, ok := crit.([]any); ok && len(s) > 0 {
			tok.Header[s[0].(string)] = false
		}
		raw, err := tok.SignedString(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Resolve(newRequest(t, "/", bearer(raw)))
		ae := wantAppErr(t, err, apperr.CodeAuthCriticalHeader, http.StatusUnauthorized)
		if name == "unknown" {
			wantContains(t, ae.Message, `"http://example.com/ext"`, "RFC 7515")
		}
	}
}
