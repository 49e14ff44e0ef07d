package identity_test

import (
	"net/http"
	"strconv"
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

// BenchmarkResolveHS256Uncached verifies a token never seen before on every
// iteration: the cost of a first negotiate (the cache's miss path).
func BenchmarkResolveHS256Uncached(b *testing.B) {
	r := newResolver(b, hsConfig())
	reqs := make([]*http.Request, 0, 1024)
	for i := range cap(reqs) {
		c := baseClaims()
		c["roles"] = []any{"admin", "ops"}
		c["jti"] = strconv.Itoa(i)
		reqs = append(reqs, newRequest(b, "/api/negotiate", bearer(sign(b, jwt.SigningMethodHS256, testSecret, "", c))))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(reqs) == 0 {
			b.StopTimer()
			r = newResolver(b, hsConfig()) // an empty cache: every token is new
			b.StartTimer()
		}
		p, err := r.Resolve(reqs[i%len(reqs)])
		if err != nil || p.UserID != "alice" {
			b.Fatalf("%+v %v", p, err)
		}
		i++
	}
}
