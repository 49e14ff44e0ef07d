package identity_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
)

// FuzzDecodeClientPrincipal feeds arbitrary X-MS-CLIENT-PRINCIPAL values to
// the decoder: it must never panic, and what it accepts must survive a
// trusted Resolve with the same header.
func FuzzDecodeClientPrincipal(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString([]byte(principalJSON)))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"claims":[{"typ":"nameid","val":"x"}]}`)))
	f.Add(base64.StdEncoding.EncodeToString([]byte(`{"claims":[{"typ":"a","val":1e400}]}`)))
	f.Add(base64.StdEncoding.EncodeToString([]byte(`null`)))
	f.Add("====")
	f.Add("")
	f.Add("-_-_")
	r, err := identity.New(identity.Config{TrustEasyAuth: true, AllowAnonymous: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(r.Close)
	f.Fuzz(func(t *testing.T, header string) {
		cp, err := identity.DecodeClientPrincipal(header)
		if err != nil {
			if cp != nil {
				t.Fatalf("non-nil principal with error %v", err)
			}
			return
		}
		if cp == nil {
			t.Fatal("nil principal without error")
		}
		req := newRequest(t, "/api/negotiate", nil)
		req.Header.Set(identity.HeaderClientPrincipal, header)
		p, err := r.Resolve(req)
		if err == nil && p.UserID == "" {
			t.Fatalf("trusted EasyAuth principal without user id: %+v", p)
		}
		for _, c := range p.Claims {
			if c.Type == "" {
				t.Fatalf("claim with empty type: %+v", p.Claims)
			}
		}
	})
}

// FuzzResolveBearer feeds arbitrary bearer tokens to Resolve: it must never
// panic, and a rejection is always a 401 *apperr.Error.
func FuzzResolveBearer(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")
	r, err := identity.New(identity.Config{HS256Secret: testSecret, Audiences: []string{"api://signalr"}, Issuer: "https://idp.example/"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(r.Close)
	f.Fuzz(func(t *testing.T, tok string) {
		req := newRequest(t, "/api/negotiate", nil)
		req.Header["Authorization"] = []string{"Bearer " + tok}
		p, err := r.Resolve(req)
		if err == nil {
			t.Fatalf("accepted a token signed by nobody: %+v", p)
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) || apperr.Status(ae.Code) != http.StatusUnauthorized {
			t.Fatalf("rejection is not a 401 apperr: %v", err)
		}
		if len(tok) > 16 && strings.Contains(ae.Message, tok) {
			t.Fatalf("message echoes the token: %q", ae.Message)
		}
	})
}
