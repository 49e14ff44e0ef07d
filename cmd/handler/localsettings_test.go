package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// TestBinaryReadsLocalSettings runs the built handler as `make run` does:
// no Functions host variables, in a folder with a local.settings.json. It
// listens on Host.LocalHttpPort, negotiates with the Values' connection
// string and hub, answers CORS for Host.CORS, lets the environment win, and
// logs what came from where once at debug; `handler doctor` in the same
// folder loads the same settings.
func TestBinaryReadsLocalSettings(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := t.TempDir()
	ls := `{"IsEncrypted": false,
  "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom",
    "AzureSignalRConnectionString": "Endpoint=http://127.0.0.1;Port=8899;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
    "AzureSignalRHubName": "fromfile", "SIGNALR_ALLOWED_HUBS": "other", "LOG_LEVEL": "error"},
  "Host": {"LocalHttpPort": ` + port + `, "CORS": "http://localhost:5173", "CORSCredentials": true}}`
	if err := os.WriteFile(filepath.Join(dir, "local.settings.json"), []byte(ls), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(handlerBin)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LOG_LEVEL=debug"} // the environment wins over Values' "error"
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	base := "http://127.0.0.1:" + port
	if !out.Await(`"msg":"listening"`, 10*time.Second) {
		t.Fatalf("the handler did not log that it listens:\n%s", out)
	}
	if resp, err := http.Get(base + "/"); err != nil {
		t.Fatalf("the handler did not listen on Host.LocalHttpPort %s: %v\n%s", port, err, out)
	} else {
		resp.Body.Close()
	}

	resp, err := http.Post(base+"/api/negotiate?negotiateVersion=1", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var neg struct{ URL string }
	json.NewDecoder(resp.Body).Decode(&neg)
	resp.Body.Close()
	if resp.StatusCode != 200 || neg.URL != "http://127.0.0.1:8899/client/?hub=fromfile" {
		t.Errorf("negotiate = %d url %q, want the file's endpoint and hub", resp.StatusCode, neg.URL)
	}

	req, _ := http.NewRequest(http.MethodOptions, base+"/api/negotiate", nil)
	req.Header.Set("Origin", "http://localhost:5173")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight from Host.CORS: %d %v", resp.StatusCode, resp.Header)
	}

	logs := out.String()
	if n := strings.Count(logs, `"msg":"settings read"`); n != 1 {
		t.Errorf("%d 'settings read' lines, want 1 (LOG_LEVEL=debug from the environment):\n%s", n, logs)
	}
	for _, want := range []string{`"file":"local.settings.json"`, `"Host.LocalHttpPort"`, `"Host.CORS"`, `"AzureSignalRHubName"`, `"fromEnvironment":["LOG_LEVEL"]`} {
		if !strings.Contains(logs, want) {
			t.Errorf("settings line lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Errorf("the logs carry the access key:\n%s", logs)
	}

	doc := exec.Command(handlerBin, "doctor", "--json", "--timeout", "1s")
	doc.Dir = dir
	doc.Env = []string{"PATH=" + os.Getenv("PATH")}
	b, _ := doc.Output() // fails: no host.json here and no service on 8899
	var fs []struct{ Check, Status, Message string }
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatalf("doctor output: %v\n%s", err, b)
	}
	var settings string
	for _, f := range fs {
		if f.Check == "settings" {
			settings = f.Status + " " + f.Message
		}
	}
	if !strings.Contains(settings, `PASS`) || !strings.Contains(settings, `hub "fromfile"`) {
		t.Errorf("doctor's settings check does not see the file's settings: %q", settings)
	}
}
