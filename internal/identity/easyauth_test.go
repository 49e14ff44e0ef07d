package identity_test

import (
	"encoding/base64"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
)

const principalJSON = `{"auth_typ":"aad","claims":[` +
	`{"typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier","val":"1234"},` +
	`{"typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name","val":"Ada"},` +
	`{"typ":"roles","val":"admin"},{"typ":"roles","val":"ops"},{"typ":"ver","val":2}],` +
	`"name_typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name","role_typ":"roles"}`

func TestEasyAuthForgedHeadersIgnoredWhenUntrusted(t *testing.T) {
	t.Parallel()
	log, buf := captureLogger()
	r := newResolver(t, identity.Config{AllowAnonymous: true, Logger: log})
	req := newRequest(t, "/api/negotiate", map[string]string{
		identity.HeaderClientPrincipal:   base64.StdEncoding.EncodeToString([]byte(principalJSON)),
		identity.HeaderClientPrincipalID: "forged-admin-id",
	})
	p, err := r.Resolve(req)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if p.Source != identity.SourceAnonymous || p.UserID != "" || len(p.Claims) != 0 {
		t.Fatalf("forged headers were honoured: %+v", p)
	}
	out := buf.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Fatalf("want exactly one warning, got %d:\n%s", n, out)
	}
	wantContains(t, out, "X-Ms-Client-Principal", "X-Ms-Client-Principal-Id", "not trusted")
	if strings.Contains(out, "forged-admin-id") || strings.Contains(out, "YXV0aF90eXA") || strings.Contains(out, "eyJ") {
		t.Fatalf("log leaks header values:\n%s", out)
	}

	// A flood of forged headers logs one warning, not one per request.
	for range 50 {
		if _, err := r.Resolve(req); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 1 {
		t.Fatalf("50 more forged requests: want still one warning, got %d", n)
	}

	// Without anonymous access the refusal says why.
	r2 := newResolver(t, identity.Config{Logger: log})
	_, err = r2.Resolve(req)
	ae := wantAppErr(t, err, apperr.CodeNegotiateUnauthenticated, http.StatusUnauthorized)
	wantContains(t, ae.Message, "X-MS-CLIENT-PRINCIPAL headers were ignored")
}

func TestEasyAuthTrustedWithPrincipalID(t *testing.T) {
	t.Parallel()
	r := newResolver(t, identity.Config{TrustEasyAuth: true})
	req := newRequest(t, "/api/negotiate", map[string]string{
		identity.HeaderClientPrincipal:    base64.StdEncoding.EncodeToString([]byte(principalJSON)),
		identity.HeaderClientPrincipalID:  "aad-object-id",
		identity.HeaderClientPrincipalIDP: "aad",
	})
	p, err := r.Resolve(req)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := identity.Principal{UserID: "aad-object-id", Source: identity.SourceEasyAuth, Claims: []identity.Claim{
		{Type: identity.ClaimTypeNameIdentifier, Value: "1234"},
		{Type: identity.ClaimTypeName, Value: "Ada"},
		{Type: "name", Value: "Ada"},
		{Type: "roles", Value: "admin"},
		{Type: "role", Value: "admin"},
		{Type: "roles", Value: "ops"},
		{Type: "role", Value: "ops"},
		{Type: "ver", Value: "2"},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("principal\n got %+v\nwant %+v", p, want)
	}
	if !p.HasRole("ops") || p.HasRole("Ops") || p.HasRole("root") {
		t.Fatalf("HasRole wrong for %+v", p.Claims)
	}
}

func TestEasyAuthTrustedClaimsOnly(t *testing.T) {
	t.Parallel()
	r := newResolver(t, identity.Config{TrustEasyAuth: true})
	// URL alphabet, unpadded: the decoder accepts every base64 flavour.
	enc := base64.RawURLEncoding.EncodeToString([]byte(principalJSON + "   "))
	p, err := r.Resolve(newRequest(t, "/api/negotiate", map[string]string{identity.HeaderClientPrincipal: enc}))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if p.UserID != "1234" || p.Source != identity.SourceEasyAuth {
		t.Fatalf("got %+v, want user 1234 from the nameidentifier claim", p)
	}

	// Only the id header (no principal): synthesized nameid/name claims.
	p, err = r.Resolve(newRequest(t, "/api/negotiate", map[string]string{
		identity.HeaderClientPrincipalID: "u-9", identity.HeaderClientPrincipalName: "bob@example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.Claim{{Type: "nameid", Value: "u-9"}, {Type: "name", Value: "bob@example.com"}}
	if p.UserID != "u-9" || !reflect.DeepEqual(p.Claims, want) {
		t.Fatalf("got %+v", p)
	}
}

func TestEasyAuthTrustedWithoutUserID(t *testing.T) {
	t.Parallel()
	r := newResolver(t, identity.Config{TrustEasyAuth: true, AllowAnonymous: true})
	enc := base64.StdEncoding.EncodeToString([]byte(`{"auth_typ":"aad","claims":[{"typ":"name","val":"x"}]}`))
	_, err := r.Resolve(newRequest(t, "/", map[string]string{identity.HeaderClientPrincipal: enc}))
	ae := wantAppErr(t, err, apperr.CodeAuthInvalidEasyAuth, http.StatusUnauthorized)
	wantContains(t, ae.Message, "no user id")
}

func TestEasyAuthBadPrincipal(t *testing.T) {
	t.Parallel()
	r := newResolver(t, identity.Config{TrustEasyAuth: true, AllowAnonymous: true})
	for name, v := range map[string]string{
		"not base64":    "!!!not-base64-at-all!!!",
		"not json":      base64.StdEncoding.EncodeToString([]byte("hello world")),
		"claims object": base64.StdEncoding.EncodeToString([]byte(`{"claims":{"typ":"a"}}`)),
		"trailing data": base64.StdEncoding.EncodeToString([]byte(`{"claims":[]} {}`)),
		"object as val": base64.StdEncoding.EncodeToString([]byte(`{"claims":[{"typ":"a","val":{}}]}`)),
		"invalid utf-8": base64.StdEncoding.EncodeToString([]byte("{\"auth_typ\":\"\xff\"}")),
		"too long":      strings.Repeat("A", identity.MaxClientPrincipalLen+4),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Resolve(newRequest(t, "/", map[string]string{identity.HeaderClientPrincipal: v}))
			ae := wantAppErr(t, err, apperr.CodeAuthInvalidEasyAuth, http.StatusUnauthorized)
			wantContains(t, ae.Message, "X-MS-CLIENT-PRINCIPAL")
			if len(v) > 8 && strings.Contains(ae.Message, v) {
				t.Fatalf("message echoes the header: %q", ae.Message)
			}
		})
	}
}

func TestDecodeClientPrincipalFlavours(t *testing.T) {
	t.Parallel()
	raw := []byte(`{"auth_typ":"aad","claims":[{"typ":"a","val":"b?>"}],"name_typ":"n","role_typ":"r"}`)
	for name, enc := range map[string]string{
		"std padded":   base64.StdEncoding.EncodeToString(raw),
		"std raw":      base64.RawStdEncoding.EncodeToString(raw),
		"url padded":   base64.URLEncoding.EncodeToString(raw),
		"url raw":      base64.RawURLEncoding.EncodeToString(raw),
		"surrounding ": "  " + base64.StdEncoding.EncodeToString(raw) + " ",
	} {
		cp, err := identity.DecodeClientPrincipal(enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cp.AuthType != "aad" || cp.NameType != "n" || cp.RoleType != "r" || len(cp.Claims) != 1 ||
			cp.Claims[0].Typ != "a" || string(cp.Claims[0].Val) != "b?>" {
			t.Fatalf("%s: decoded %+v", name, cp)
		}
	}
}
