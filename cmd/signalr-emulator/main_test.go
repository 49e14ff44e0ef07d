package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/emulator"
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

	port := bannerPort(t, &out, regexp.MustCompile(`Endpoint=http://localhost;Port=(\d+);AccessKey=k-for-test;Version=1\.0;`))
	// The second form, with the port in Endpoint, for parsers that ignore Port=.
	if !strings.Contains(out.String(), "Dapr") || !strings.Contains(out.String(), "\nEndpoint=http://localhost:"+port+";AccessKey=k-for-test;Version=1.0;\n") {
		t.Fatalf("no connection string with the port in Endpoint:\n%s", out.String())
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

// bannerPort waits for the banner's last line (the connection string with
// the port in Endpoint, written in one piece) and returns the port re's
// first group finds in the banner.
func bannerPort(t *testing.T, out *testutil.SyncBuffer, re *regexp.Regexp) string {
	t.Helper()
	if !out.Await("Dapr's SignalR binding", 5*time.Second) {
		t.Fatalf("no banner in output:\n%s", out.String())
	}
	m := re.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no connection string in output:\n%s", out.String())
	}
	return m[1]
}

func TestRunRejectsBadFlags(t *testing.T) {
	var out testutil.SyncBuffer
	if err := run(context.Background(), []string{"-log-level", "loud"}, &out); err == nil {
		t.Fatal("want error for bad -log-level")
	}
	if err := run(context.Background(), []string{"extra"}, &out); err == nil {
		t.Fatal("want error for extra args")
	}
	for _, bad := range [][]string{{"-keepalive", "0s"}, {"-client-timeout", "-1s"}, {"-keepalive", "soon"}, {"-reconnect-window", "0s"}} {
		if err := run(context.Background(), bad, &out); err == nil {
			t.Fatalf("%v: want an error", bad)
		}
	}
	err := run(context.Background(), []string{"-mode", "classic"}, &out)
	if err == nil || !strings.Contains(err.Error(), `-mode "classic"`) || !strings.Contains(err.Error(), "serverless or default") {
		t.Fatalf("-mode classic: %v; want an error naming the value and the allowed modes", err)
	}
}

// TestRunDefaultModeRefusesHandshakes runs the command with -mode default
// and connects a WebSocket client: negotiate works, the handshake is
// answered with the service's Default-mode error.
func TestRunDefaultModeRefusesHandshakes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-key", "k-for-test", "-log-level", "warn", "-mode", "default"}, &out)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("run did not return after cancel")
		}
	}()
	port := bannerPort(t, &out, regexp.MustCompile(`Port=(\d+);`))
	if !strings.Contains(out.String(), "(default mode)") || !strings.Contains(out.String(), emulator.DefaultModeNoServerError) {
		t.Fatalf("the banner does not say default mode and its error:\n%s", out.String())
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": "http://127.0.0.1/client/?hub=chat",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte("k-for-test"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/client/negotiate?hub=chat&negotiateVersion=1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var n struct {
		ConnectionToken string `json:"connectionToken"`
	}
	err = json.NewDecoder(resp.Body).Decode(&n)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || n.ConnectionToken == "" {
		t.Fatalf("negotiate: %d %v %+v", resp.StatusCode, err, n)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, "ws://127.0.0.1:"+port+"/client/?hub=chat&id="+url.QueryEscape(n.ConnectionToken), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(dctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.Read(dctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(map[string]string{"error": emulator.DefaultModeNoServerError})
	if string(data) != string(want)+"\x1e" {
		t.Fatalf("handshake answer %q, want %q", data, string(want)+"\x1e")
	}
}
