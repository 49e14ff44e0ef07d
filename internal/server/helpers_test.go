package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/internal/server"
)

const devKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// startEmulator runs the local service emulator on loopback and returns its
// connection string.
func startEmulator(t *testing.T) (connStr string, emu *emulator.Emulator, base string) {
	t.Helper()
	emu = emulator.New(emulator.Options{AccessKey: devKey, Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); ts.Close() })
	u, _ := url.Parse(ts.URL)
	return "Endpoint=http://" + u.Hostname() + ";Port=" + u.Port() + ";AccessKey=" + devKey + ";Version=1.0;", emu, ts.URL
}

// newHandler builds the handler from the settings env (server.Load in an
// empty directory: no local.settings.json) and serves it on loopback.
func newHandler(t *testing.T, env map[string]string) *httptest.Server {
	t.Helper()
	cfg, err := server.Load(env, t.TempDir())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	s, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

type errorBody struct {
	Error struct{ Code, Message, Hint string }
}

// do sends a request and returns status and body.
func do(t *testing.T, method, url string, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// wantError asserts a JSON error body with the given status and code.
func wantError(t *testing.T, status int, b []byte, wantStatus int, code string) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("body is not JSON: %q", b)
	}
	if status != wantStatus || e.Error.Code != code {
		t.Fatalf("got %d %s, want %d %s: %s", status, e.Error.Code, wantStatus, code, b)
	}
	if e.Error.Message == "" || e.Error.Hint == "" {
		t.Errorf("error without message or hint: %s", b)
	}
	if strings.Contains(string(b), devKey) {
		t.Errorf("response contains the AccessKey: %s", b)
	}
	return e
}
