package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/signalr"
)

// BenchmarkNegotiate measures the negotiate handler alone (no network), as
// the JS client calls it: POST with ?negotiateVersion=1 and no body.
func BenchmarkNegotiate(b *testing.B) {
	env := []string{"AzureSignalRConnectionString=Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"}
	s, err := newServer(testConfig(), slog.New(slog.DiscardHandler), env, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	req := httptest.NewRequest(http.MethodPost, "/api/negotiate?negotiateVersion=1", nil)
	serveLoop(b, s, req)
}

// BenchmarkNegotiateBearer is BenchmarkNegotiate with an HS256 bearer token
// (issuer and audience checked, three claim types copied into the client
// token), the negotiate most production frontends run; the same token on
// every request, as from a client that reconnects (the verified-token
// cache answers after the first).
func BenchmarkNegotiateBearer(b *testing.B) {
	cfg := testConfig()
	cfg.JWTSecret, cfg.JWTIssuer, cfg.JWTAudiences = "bench-secret-0123456789-0123456789-0123456789", "https://idp.example/", []string{"api://bench"}
	cfg.ClaimTypes = []string{"name", "role", "email"}
	env := []string{"AzureSignalRConnectionString=Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"}
	s, err := newServer(cfg, slog.New(slog.DiscardHandler), env, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "bench-user", "iss": "https://idp.example/", "aud": "api://bench", "exp": time.Now().Add(time.Hour).Unix(),
		"name": "Bench User", "role": "tester", "email": "bench@example.com",
	}).SignedString([]byte(cfg.JWTSecret))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/negotiate?negotiateVersion=1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	serveLoop(b, s, req)
}

// serveLoop serves req on s in the benchmark loop, requiring 200 each time.
func serveLoop(b *testing.B, s *Server, req *http.Request) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(s int)           { d.status = s }

// BenchmarkBroadcast measures the broadcast handler against an in-process
// emulator, beside the same REST call made directly with the SDK client
// (the handler's overhead is the difference).
func BenchmarkBroadcast(b *testing.B) {
	emu := emulator.New(emulator.Options{Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewServer(emu)
	defer ts.Close()
	defer emu.Close()
	u, _ := url.Parse(ts.URL)
	cs := "Endpoint=http://" + u.Hostname() + ";Port=" + u.Port() + ";AccessKey=" + emulator.DefaultAccessKey + ";Version=1.0;"
	cfg := testConfig()
	cfg.ConnectionString = cs
	s, err := newServer(cfg, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := []byte(`{"target":"newMessage","arguments":[{"name":"bench","text":"hello"}]}`)
	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/api/broadcast", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			w := &discardWriter{h: http.Header{}}
			s.ServeHTTP(w, req)
			if w.status != http.StatusAccepted {
				b.Fatalf("status %d", w.status)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		c := s.endpoints.list[0].client
		msg := signalr.Message{Target: "newMessage", Arguments: json.RawMessage(`[{"name":"bench","text":"hello"}]`)}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.SendToAll(context.Background(), "chat", msg, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
