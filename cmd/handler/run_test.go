package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// TestRunServesUntilCancelled calls run in-process: it listens on
// FUNCTIONS_CUSTOMHANDLER_PORT, answers negotiate, and returns nil once its
// context is cancelled.
func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	env := server.Env{"FUNCTIONS_CUSTOMHANDLER_PORT": port, "AzureSignalRConnectionString": devConnStr}
	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"handler"}, env, out, io.Discard) }()

	base := "http://127.0.0.1:" + port
	if !out.Await(`"msg":"listening"`, 5*time.Second) {
		t.Fatalf("run never logged that it listens:\n%s", out)
	}
	resp, err := http.Post(base+"/api/negotiate", "text/plain", nil)
	if err != nil {
		t.Fatalf("run logged that it listens, but negotiate failed: %v\n%s", err, out)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"accessToken"`) {
		t.Errorf("negotiate = %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
	if !strings.Contains(out.String(), `"msg":"listening"`) || !strings.Contains(out.String(), `"msg":"stopped"`) {
		t.Errorf("logs:\n%s", out)
	}
}

// TestRunRefusesBadSettings: run returns the settings error and explains it
// on stderr as the doctor would, without listening.
func TestRunRefusesBadSettings(t *testing.T) {
	t.Parallel()
	env := server.Env{"FUNCTIONS_CUSTOMHANDLER_PORT": freePort(t), "AzureSignalRConnectionString": "Endpoint=ftp://x;AccessKey=k"}
	stderr := &testutil.SyncBuffer{}
	err := run(context.Background(), []string{"handler"}, env, io.Discard, stderr)
	if err == nil || !strings.Contains(err.Error(), "config.connection_string.invalid_endpoint") {
		t.Fatalf("run = %v", err)
	}
	if !strings.Contains(stderr.String(), "FAIL  settings  [config.connection_string.invalid_endpoint]") {
		t.Errorf("stderr: %s", stderr)
	}
}

// TestRunWarnsMissingVersion: a connection string without Version starts
// the handler, with one warning line on stderr carrying the code.
func TestRunWarnsMissingVersion(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	env := server.Env{"FUNCTIONS_CUSTOMHANDLER_PORT": port,
		"AzureSignalRConnectionString": "Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;"}
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"handler"}, env, stdout, stderr) }()
	if !stdout.Await(`"msg":"listening"`, 5*time.Second) {
		t.Fatalf("run never logged that it listens:\n%s%s", stdout, stderr)
	}
	resp, err := http.Post("http://127.0.0.1:"+port+"/api/negotiate", "application/json", nil)
	if err != nil {
		t.Fatalf("run logged that it listens, but negotiate failed: %v\n%s%s", err, stdout, stderr)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("negotiate %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"WARN"`) || !strings.Contains(lines[0], `"code":"config.connection_string.missing_version"`) ||
		!strings.Contains(lines[0], "AzureSignalRConnectionString has no Version") {
		t.Errorf("stderr, want one warning:\n%s", stderr)
	}
	if strings.Contains(stderr.String()+stdout.String(), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Error("the access key is logged")
	}
}
