package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/signalr"
)

// BenchmarkUpstream measures one upstream invocation through the handler
// in-process (signature check, parse, dispatch, completion): a method the
// hub does not have (no REST call: the upstream path alone), and
// sendMessage, which also makes the REST send to an in-process emulator.
func BenchmarkUpstream(b *testing.B) {
	emu := emulator.New(emulator.Options{Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewServer(emu)
	defer ts.Close()
	defer emu.Close()
	u, _ := url.Parse(ts.URL)
	cfg := testConfig()
	cfg.ConnectionString = "Endpoint=http://" + u.Hostname() + ";Port=" + u.Port() + ";AccessKey=" + emulator.DefaultAccessKey + ";Version=1.0;"
	s, err := newServer(cfg, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sig := signalr.UpstreamSignature("conn1", emulator.DefaultAccessKey)
	for _, c := range []struct{ name, target, args string }{
		{"unknown_method", "nope", `[]`},
		{"sendMessage", "sendMessage", `["hello"]`},
	} {
		body := []byte(`{"type":1,"invocationId":"1","target":"` + c.target + `","arguments":` + c.args + `}`)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/api/upstream", bytes.NewReader(body))
				h := req.Header
				h["Content-Type"] = []string{"application/json"}
				h["X-Asrs-Connection-Id"] = []string{"conn1"}
				h["X-Asrs-Hub"] = []string{"chat"}
				h["X-Asrs-Category"] = []string{"messages"}
				h["X-Asrs-Event"] = []string{c.target}
				h["X-Asrs-Signature"] = []string{sig}
				w := &discardWriter{h: http.Header{}}
				s.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
