package doctor_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/doctor"
	"github.com/serverless-signalr/functions-go/internal/server"
)

const upKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// realUpstream serves the handler itself with the AccessKey key, in front
// of an emulator with the same key.
func realUpstream(t *testing.T, key string) string {
	t.Helper()
	em := emulator.New(emulator.Options{AccessKey: key, Logger: slog.New(slog.DiscardHandler)})
	es := httptest.NewServer(em)
	t.Cleanup(func() { em.Close(); es.Close() })
	cfg, err := server.Load(map[string]string{"AzureSignalRConnectionString": connStr(es.URL, key)}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts.URL
}

func upstreamFindings(t *testing.T, url string, timeout time.Duration) map[string]doctor.Finding {
	t.Helper()
	o := options(writeApp(t, nil), baseConfig(t, connStr("http://127.0.0.1:1", upKey)))
	o.Upstream = url
	if timeout > 0 {
		o.Timeout = timeout
	}
	out := map[string]doctor.Finding{}
	for _, f := range doctor.Run(context.Background(), o) {
		if strings.HasPrefix(f.Check, "upstream ") {
			out[f.Check] = f
			if strings.Contains(f.Message+f.Fix, upKey) || strings.Contains(f.Details["url"], "secret") {
				t.Errorf("finding leaks a secret: %+v", f)
			}
		}
	}
	return out
}

func TestUpstreamAgainstTheHandler(t *testing.T) {
	fs := upstreamFindings(t, realUpstream(t, upKey)+"/api/upstream?code=secret", 0)
	c, inv := fs["upstream connected"], fs["upstream invocation"]
	if c.Status != doctor.Pass || inv.Status != doctor.Pass || !strings.Contains(inv.Message, "handlerDoctorPing") {
		t.Fatalf("%+v\n%+v", c, inv)
	}

	// The deployed handler has another key: 401 explained.
	fs = upstreamFindings(t, realUpstream(t, "another-key-0123456789-abcdefghijklmnopqrstuv")+"/api/upstream", 0)
	if f := fs["upstream connected"]; f.Status != doctor.Fail || f.Code != apperr.CodeUpstreamSignatureMismatch || !strings.Contains(f.Message, "differs") {
		t.Fatalf("wrong key: %+v", f)
	}
	if f := fs["upstream invocation"]; f.Status != doctor.Skip {
		t.Fatalf("invocation after a failed connect: %+v", f)
	}

	// Wrong route.
	fs = upstreamFindings(t, realUpstream(t, upKey)+"/api/upstreams", 0)
	if f := fs["upstream connected"]; f.Status != doctor.Fail || f.Code != apperr.CodeRouteNotFound || !strings.Contains(f.Message, "?code=") {
		t.Fatalf("404: %+v", f)
	}
}

func TestUpstreamBadAnswers(t *testing.T) {
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-ASRS-Category") == "messages" {
			w.Write([]byte(`{"type":3,"invocationId":"1","result":1}`)) // no record separator
		}
	}))
	defer garbage.Close()
	fs := upstreamFindings(t, garbage.URL, 0)
	if f := fs["upstream invocation"]; f.Status != doctor.Fail || f.Code != apperr.CodeHandlerBadResponse || !strings.Contains(f.Message, "separator") {
		t.Fatalf("unparsable completion: %+v", f)
	}

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer hang.Close()
	defer close(release)
	fs = upstreamFindings(t, hang.URL, 200*time.Millisecond)
	if f := fs["upstream connected"]; f.Status != doctor.Fail || f.Code != apperr.CodeHandlerUnreachable || !strings.Contains(f.Message, "in time") {
		t.Fatalf("timeout: %+v", f)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer failing.Close()
	if f := upstreamFindings(t, failing.URL, 0)["upstream connected"]; f.Status != doctor.Fail || !strings.Contains(f.Message, "status code 503") {
		t.Fatalf("503: %+v", f)
	}
}

// TestSignalRTriggerFoldersAreServed: the example signalRTrigger folders
// copied into the app are not reported as functions the handler lacks.
func TestSignalRTriggerFoldersAreServed(t *testing.T) {
	fn, err := os.ReadFile("../../docs/examples/signalr-trigger/sendMessage/function.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeApp(t, map[string]string{"sendMessage/function.json": string(fn), "mystery/function.json": `{"bindings":[{"type":"queueTrigger","direction":"in","name":"q"}]}`})
	seen := map[string]doctor.Status{}
	for _, f := range doctor.Run(context.Background(), options(dir, baseConfig(t, connStr("http://127.0.0.1:1", upKey)))) {
		seen[f.Check] = f.Status
	}
	if _, ok := seen["function sendMessage"]; ok {
		t.Errorf("the signalRTrigger folder was reported: %v", seen)
	}
	if seen["function mystery"] != doctor.Warn {
		t.Errorf("an unknown function folder must still warn: %v", seen)
	}
}
