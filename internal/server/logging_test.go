package server_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// TestLoggerSeverityAsTheHostSeesIt: every record is one JSON object on one
// line, and the host assigns each level its own severity, even when the
// text of an error or info record contains "warn".
func TestLoggerSeverityAsTheHostSeesIt(t *testing.T) {
	var stdout, stderr bytes.Buffer
	log := server.NewLogger(&stdout, &stderr, "debug").With("component", "test")
	log.Debug("debug record")
	log.Info("info record mentions a Warning")
	log.Warn("forged EasyAuth headers ignored")
	log.Error("broadcast failed after WARNING", "cause", "service said: warn, Warn, wArN")

	want := map[string]string{
		"debug record":                    "Information",
		"info record mentions a Warning":  "Information",
		"forged EasyAuth headers ignored": "Warning",
		"broadcast failed after WARNING":  "Error",
	}
	seen := map[string]bool{}
	for stream, buf := range map[string]*bytes.Buffer{"stdout": &stdout, "stderr": &stderr} {
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s line is not one JSON object: %q", stream, line)
			}
			msg, _ := rec["msg"].(string)
			if got := testutil.HostSeverity(stream, line); got != want[msg] {
				t.Errorf("%q on %s is logged by the host at %s, want %s", msg, stream, got, want[msg])
			}
			if rec["component"] != "test" {
				t.Errorf("%q lost the logger's attributes: %s", msg, line)
			}
			if msg == "broadcast failed after WARNING" && rec["cause"] != "service said: warn, Warn, wArN" {
				t.Errorf("escaping changed the decoded text: %v", rec["cause"])
			}
			seen[msg] = true
		}
	}
	if len(seen) != len(want) {
		t.Errorf("records seen %v, want %v", seen, want)
	}
}

// TestLoggerLevel: records below LOG_LEVEL are dropped on both streams.
func TestLoggerLevel(t *testing.T) {
	var stdout, stderr bytes.Buffer
	log := server.NewLogger(&stdout, &stderr, "warn")
	log.Info("dropped")
	log.Warn("kept")
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), `"msg":"kept"`) {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

// TestClientErrorsLoggedOnceAtInfo: a client mistake is one info record on
// stdout with its code, status, method and route, the same code the client
// got, and never the body or a credential.
func TestClientErrorsLoggedOnceAtInfo(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	cfg, err := server.Load(map[string]string{"AzureSignalRConnectionString": cs, "AUTH_JWT_SECRET": strings.Repeat("s", 40)}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr testutil.SyncBuffer
	s, err := server.New(cfg, server.NewLogger(&stdout, &stderr, "info"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := httptest.NewServer(s)
	defer h.Close()

	const secretBody = `{"target":"t","arguments":["body-marker-7f3a"],`
	const token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.token-marker-9c2e"
	status, _, _ := do(t, "POST", h.URL+"/api/broadcast", secretBody, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token})
	if status != 400 {
		t.Fatalf("broadcast = %d", status)
	}
	status, _, _ = do(t, "POST", h.URL+"/api/negotiate", "", map[string]string{"Authorization": "Bearer " + token})
	if status != 401 {
		t.Fatalf("negotiate = %d", status)
	}

	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if rec["msg"] == "request failed" {
			recs = append(recs, rec)
		}
	}
	if len(recs) != 2 {
		t.Fatalf("want one record per failed request, got %d:\n%s", len(recs), stdout.String())
	}
	want := []struct{ code, route string }{{"broadcast.invalid_json", "/api/broadcast"}, {"auth.malformed_token", "/api/negotiate"}}
	for i, rec := range recs {
		if rec["level"] != "INFO" || rec["code"] != want[i].code || rec["route"] != want[i].route || rec["method"] != "POST" || rec["status"] == nil {
			t.Errorf("record %d = %v, want INFO %s %s with status", i, rec, want[i].code, want[i].route)
		}
	}
	all := stdout.String() + stderr.String()
	for _, secret := range []string{"body-marker-7f3a", "token-marker-9c2e", token} {
		if strings.Contains(all, secret) {
			t.Errorf("logs contain %q:\n%s", secret, all)
		}
	}
}
