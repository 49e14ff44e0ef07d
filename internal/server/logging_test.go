package server_test

import (
	"bytes"
	"encoding/json"
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
