package main

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
)

func TestRunPrintsConnectionStringAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-key", "k-for-test", "-log-level", "warn"}, &out)
	}()

	re := regexp.MustCompile(`Endpoint=http://localhost;Port=(\d+);AccessKey=k-for-test;Version=1\.0;`)
	var port string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			port = m[1]
			break
		}
	}
	if port == "" {
		t.Fatalf("no connection string in output:\n%s", out.String())
	}
	resp, err := http.Head("http://127.0.0.1:" + port + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	var out testutil.SyncBuffer
	if err := run(context.Background(), []string{"-log-level", "loud"}, &out); err == nil {
		t.Fatal("want error for bad -log-level")
	}
	if err := run(context.Background(), []string{"extra"}, &out); err == nil {
		t.Fatal("want error for extra args")
	}
}
