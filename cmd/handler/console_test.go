package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// TestConsoleSeverity starts the binary as the host does and reads its two
// streams as the host reads them: every line is one JSON object, info and
// debug records are on stdout (logged at Information), warnings on stderr
// (logged at Warning), never the other way round.
func TestConsoleSeverity(t *testing.T) {
	p := startHandler(t, "AzureSignalRConnectionString="+devConnStr, "LOG_LEVEL=debug")
	// Forged App Service Authentication headers (WEBSITE_AUTH_ENABLED is not
	// set): ignored, with a warning.
	req, _ := http.NewRequest("POST", p.base+"/api/negotiate", nil)
	req.Header.Set("X-MS-CLIENT-PRINCIPAL-ID", "forged")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	p.errOnly.Await(`"level":"WARN"`, 5*time.Second) // the forged-header warning; checked below
	levels := map[string]map[string]bool{}
	for stream, buf := range map[string]*testutil.SyncBuffer{"stdout": p.outOnly, "stderr": p.errOnly} {
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			var rec struct{ Level string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" {
				t.Errorf("%s line is not one JSON log record: %q", stream, line)
				continue
			}
			want := map[string]string{"DEBUG": "Information", "INFO": "Information", "WARN": "Warning", "ERROR": "Error"}[rec.Level]
			if got := testutil.HostSeverity(stream, line); got != want {
				t.Errorf("%s record on %s is logged by the host at %s, want %s: %s", rec.Level, stream, got, want, line)
			}
			if levels[stream] == nil {
				levels[stream] = map[string]bool{}
			}
			levels[stream][rec.Level] = true
		}
	}
	if !levels["stdout"]["INFO"] || !levels["stderr"]["WARN"] {
		t.Errorf("expected the listening line on stdout and the forged-header warning on stderr, got %v\nstdout:\n%s\nstderr:\n%s", levels, p.outOnly, p.errOnly)
	}
}

// TestListenFailureExplained: a port in use stops the binary with
// startup.listen_failed, what the OS said, the port and the setting that
// chose it, and a non-zero exit.
func TestListenFailureExplained(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, handlerBin)
	cmd.Env = []string{"FUNCTIONS_CUSTOMHANDLER_PORT=" + port, "AzureSignalRConnectionString=" + devConnStr}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("handler exited 0 with its port in use")
	}
	out := stderr.String()
	for _, want := range []string{"startup.listen_failed", "address already in use", "port " + port, "FUNCTIONS_CUSTOMHANDLER_PORT", "FAIL  settings"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "config.invalid") || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr:\n%s", stdout.String(), out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "{") && testutil.HostSeverity("stderr", line) != "Error" {
			t.Errorf("the host would not log the failure as an error: %s", line)
		}
	}
}
