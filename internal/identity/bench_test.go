package identity_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/internal/identity"
)

func BenchmarkResolveAnonymous(b *testing.B) {
	r := newResolver(b, identity.Config{AllowAnonymous: true, HS256Secret: testSecret})
	req := newRequest(b, "/api/negotiate?hub=chat", map[string]string{"Origin": "https://app.example"})
	b.ReportAllocs()
	for b.Loop() {
		p, err := r.Resolve(req)
		if err != nil || p.Source != identity.SourceAnonymous {
			b.Fatalf("%+v %v", p, err)
		}
	}
}

func BenchmarkResolveHS256(b *testing.B) {
	r := newResolver(b, hsConfig())
	c := baseClaims()
	c["roles"] = []any{"admin", "ops"}
	req := newRequest(b, "/api/negotiate", bearer(sign(b, jwt.SigningMethodHS256, testSecret, "", c)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := r.Resolve(req)
		if err != nil || p.UserID != "alice" {
			b.Fatalf("%+v %v", p, err)
		}
	}
}
