package identity_test

import (
	"encoding/base64"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
)

func TestAnonymous(t *testing.T) {
	t.Parallel()
	r := newResolver(t, identity.Config{AllowAnonymous: true})
	// A query userid is never a way to pick a user id.
	p, err := r.Resolve(newRequest(t, "/api/negotiate?userid=admin&userId=admin", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if !reflect.DeepEqual(p, identity.Principal{Source: identity.SourceAnonymous}) {
		t.Fatalf("got %+v, want a bare anonymous principal", p)
	}

	r = newResolver(t, identity.Config{})
	_, err = r.Resolve(newRequest(t, "/api/negotiate", nil))
	ae := wantAppErr(t, err, apperr.CodeNegotiateUnauthenticated, http.StatusUnauthorized)
	wantContains(t, ae.Message, "no credentials")
	wantContains(t, ae.Body().Error.Hint, "accessTokenFactory")
}

func TestDevHeader(t *testing.T) {
	t.Parallel()
	hdr := map[string]string{"x-ms-signalr-userid": "dev-user"}
	r := newResolver(t, identity.Config{AllowAnonymous: true})
	p, err := r.Resolve(newRequest(t, "/", hdr))
	if err != nil || p.UserID != "" || p.Source != identity.SourceAnonymous {
		t.Fatalf("dev header honoured while disabled: %+v %v", p, err)
	}

	r = newResolver(t, identity.Config{DevAllowClientUserID: true})
	p, err = r.Resolve(newRequest(t, "/", hdr))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if !reflect.DeepEqual(p, identity.Principal{UserID: "dev-user", Source: identity.SourceDev}) {
		t.Fatalf("got %+v", p)
	}
	_, err = r.Resolve(newRequest(t, "/", map[string]string{"x-ms-signalr-userid": "a\x01b"}))
	wantAppErr(t, err, apperr.CodeAuthInvalidUserID, http.StatusUnauthorized) // one code for bad user ids, whatever their source
	_, err = r.Resolve(newRequest(t, "/", map[string]string{"x-ms-signalr-userid": ""}))
	wantAppErr(t, err, apperr.CodeAuthMalformedToken, http.StatusUnauthorized)
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	cfg := hsConfig()
	cfg.TrustEasyAuth = true
	cfg.DevAllowClientUserID = true
	cfg.AllowAnonymous = true
	r := newResolver(t, cfg)
	good := sign(t, jwt.SigningMethodHS256, testSecret, "", baseClaims())
	ea := base64.StdEncoding.EncodeToString([]byte(principalJSON))

	// EasyAuth beats a bearer token (even one we would reject: App Service
	// validated its own token) and the dev header.
	p, err := r.Resolve(newRequest(t, "/", map[string]string{
		identity.HeaderClientPrincipal: ea, "Authorization": "Bearer not.a.token", "x-ms-signalr-userid": "dev"}))
	if err != nil || p.Source != identity.SourceEasyAuth || p.UserID != "1234" {
		t.Fatalf("EasyAuth precedence: %+v %v", p, err)
	}
	// A valid bearer beats the dev header.
	p, err = r.Resolve(newRequest(t, "/", map[string]string{"Authorization": "Bearer " + good, "x-ms-signalr-userid": "dev"}))
	if err != nil || p.Source != identity.SourceBearer || p.UserID != "alice" {
		t.Fatalf("bearer precedence: %+v %v", p, err)
	}
	// An invalid bearer is an error even though dev and anonymous would pass.
	_, err = r.Resolve(newRequest(t, "/", map[string]string{"Authorization": "Bearer " + good + "x", "x-ms-signalr-userid": "dev"}))
	wantAppErr(t, err, apperr.CodeAuthInvalidSig, http.StatusUnauthorized)
	// The header wins over the query parameter.
	p, err = r.Resolve(newRequest(t, "/?access_token=garbage", map[string]string{"Authorization": "Bearer " + good}))
	if err != nil || p.UserID != "alice" {
		t.Fatalf("header over query: %+v %v", p, err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	cases := map[string]identity.Config{
		"jwks and secret": {JWKSURL: "https://idp.example/keys", HS256Secret: testSecret},
		"short secret":    {HS256Secret: []byte("too-short")},
		"http jwks":       {JWKSURL: "http://idp.example/keys"},
		"relative jwks":   {JWKSURL: "/keys"},
		"ftp jwks":        {JWKSURL: "ftp://idp.example/keys"},
		"jwks userinfo":   {JWKSURL: "https://u:p@idp.example/keys"},
		"negative leeway": {HS256Secret: testSecret, Leeway: -time.Second},
		"huge leeway":     {HS256Secret: testSecret, Leeway: 6 * time.Minute},
		"blank audience":  {HS256Secret: testSecret, Audiences: []string{"a", " "}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := identity.New(cfg)
			if err == nil {
				r.Close()
				t.Fatal("New accepted an invalid config")
			}
			if code := apperr.Code(err); code != apperr.CodeConfigIdentity {
				t.Fatalf("code = %q, want %q (%v)", code, apperr.CodeConfigIdentity, err)
			}
			if strings.Contains(err.Error(), string(testSecret)) {
				t.Fatalf("config error leaks the secret: %v", err)
			}
		})
	}
	for _, u := range []string{"http://127.0.0.1:8080/keys", "http://localhost/keys", "http://[::1]:9/k", "https://idp.example/keys"} {
		r, err := identity.New(identity.Config{JWKSURL: u})
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		r.Close()
	}
}

func TestClaimsOfTypes(t *testing.T) {
	t.Parallel()
	p := identity.Principal{Claims: []identity.Claim{
		{Type: identity.ClaimTypeNameIdentifier, Value: "1234"},
		{Type: identity.ClaimTypeName, Value: "Ada"},
		{Type: "name", Value: "Ada"},
		{Type: identity.ClaimTypeRole, Value: "admin"},
		{Type: "role", Value: "admin"},
		{Type: "role", Value: "ops"},
		{Type: identity.ClaimTypeEmail, Value: "ada@example.com"},
		{Type: "Department", Value: "R&D"},
		{Type: "tid", Value: "t-1"},
	}}
	cases := []struct {
		name  string
		types []string
		want  []identity.Claim
	}{
		{"short names pull long claims", []string{"nameid", "role", "email"}, []identity.Claim{
			{Type: "nameid", Value: "1234"}, {Type: "role", Value: "admin"}, {Type: "role", Value: "ops"}, {Type: "email", Value: "ada@example.com"}}},
		{"long names emit short", []string{identity.ClaimTypeNameIdentifier, identity.ClaimTypeName}, []identity.Claim{
			{Type: "nameid", Value: "1234"}, {Type: "unique_name", Value: "Ada"}, {Type: "name", Value: "Ada"}}},
		{"name requested short", []string{"name"}, []identity.Claim{{Type: "name", Value: "Ada"}}},
		{"unique_name requested", []string{"unique_name"}, []identity.Claim{{Type: "unique_name", Value: "Ada"}, {Type: "name", Value: "Ada"}}},
		{"case-sensitive", []string{"department", "TID"}, nil},
		{"plain", []string{"Department", "tid"}, []identity.Claim{{Type: "Department", Value: "R&D"}, {Type: "tid", Value: "t-1"}}},
		{"none", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := p.ClaimsOfTypes(tc.types)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ClaimsOfTypes(%q)\n got %+v\nwant %+v", tc.types, got, tc.want)
			}
		})
	}
}

func TestHasRole(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"role", "roles", identity.ClaimTypeRole} {
		p := identity.Principal{Claims: []identity.Claim{{Type: "sub", Value: "admin"}, {Type: typ, Value: "admin"}}}
		if !p.HasRole("admin") {
			t.Errorf("HasRole(admin) false with %s claim", typ)
		}
		if p.HasRole("Admin") {
			t.Errorf("HasRole is not case-sensitive with %s claim", typ)
		}
	}
	if (identity.Principal{Claims: []identity.Claim{{Type: "sub", Value: "admin"}}}).HasRole("admin") {
		t.Error("a sub claim counted as a role")
	}
}
