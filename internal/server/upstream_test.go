package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/serverless-signalr/functions-go/customhandler"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/signalr"
)

// listener is one JSON-protocol WebSocket client of the emulator, connected
// through the handler's negotiate.
type listener struct {
	id   string
	ws   *websocket.Conn
	recs chan map[string]any
}

func listen(t *testing.T, handlerURL string) *listener {
	t.Helper()
	return listenAs(t, handlerURL, "")
}

// listenAs is listen for user (the handler needs DEV_ALLOW_CLIENT_USER_ID);
// "" connects anonymously.
func listenAs(t *testing.T, handlerURL, user string) *listener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	var hdr map[string]string
	if user != "" {
		hdr = map[string]string{"x-ms-signalr-userid": user}
	}
	_, _, b := do(t, "POST", handlerURL+"/api/negotiate", "", hdr)
	var nr struct{ URL, AccessToken string }
	if err := json.Unmarshal(b, &nr); err != nil {
		t.Fatalf("negotiate: %s", b)
	}
	u, _ := url.Parse(nr.URL)
	neg := *u
	neg.Path = strings.TrimSuffix(neg.Path, "/") + "/negotiate"
	q := neg.Query()
	q.Set("negotiateVersion", "1")
	neg.RawQuery = q.Encode()
	_, _, b = do(t, "POST", neg.String(), "", map[string]string{"Authorization": "Bearer " + nr.AccessToken})
	var cn struct{ ConnectionID, ConnectionToken string }
	if err := json.Unmarshal(b, &cn); err != nil || cn.ConnectionID == "" {
		t.Fatalf("service negotiate: %s", b)
	}
	ws := *u
	ws.Scheme = "ws"
	q = ws.Query()
	q.Set("id", cn.ConnectionToken)
	q.Set("access_token", nr.AccessToken)
	ws.RawQuery = q.Encode()
	c, _, err := websocket.Dial(ctx, ws.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")); err != nil {
		t.Fatal(err)
	}
	l := &listener{id: cn.ConnectionID, ws: c, recs: make(chan map[string]any, 64)}
	// The handshake answer ({}) means the connection is registered: only
	// then can a message reach it.
	ready := make(chan struct{})
	go func() {
		hs := ready
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				close(l.recs)
				return
			}
			for _, rec := range bytes.Split(data, []byte{0x1e}) {
				var m map[string]any
				if json.Unmarshal(rec, &m) != nil {
					continue
				}
				if _, typed := m["type"]; !typed && hs != nil {
					close(hs)
					hs = nil
				}
				if m["type"] == float64(1) {
					l.recs <- m
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("no handshake answer")
	}
	return l
}

// next returns the next invocation the listener received.
func (l *listener) next(t *testing.T) (target string, arg map[string]any) {
	t.Helper()
	select {
	case m, ok := <-l.recs:
		if !ok {
			t.Fatal("the listener's connection ended")
		}
		args, _ := m["arguments"].([]any)
		if len(args) != 1 {
			t.Fatalf("invocation %v", m)
		}
		a, _ := args[0].(map[string]any)
		return m["target"].(string), a
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
	}
	return "", nil
}

// upstreamCall is what the service POSTs to the upstream for connection id.
func upstreamCall(t *testing.T, base, path, connID, userID, category, event, body string) (int, http.Header, []byte) {
	t.Helper()
	h := map[string]string{
		"Content-Type":         "application/json",
		"X-ASRS-Connection-Id": connID,
		"X-ASRS-Hub":           "chat",
		"X-ASRS-Category":      category,
		"X-ASRS-Event":         event,
		"X-ASRS-Signature":     signalr.UpstreamSignature(connID, devKey),
	}
	if userID != "" {
		h["X-ASRS-User-Id"] = userID
	}
	return do(t, "POST", base+path, body, h)
}

func invocation(id, target string, args ...any) string {
	b, _ := json.Marshal(map[string]any{"type": 1, "invocationId": id, "target": target, "arguments": args})
	return string(b)
}

func wantCompletion(t *testing.T, status int, b []byte) *signalr.Completion {
	t.Helper()
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	c, err := signalr.ParseCompletion(signalr.ProtocolJSON, b)
	if err != nil {
		t.Fatalf("%v: %q", err, b)
	}
	return c
}

func TestUpstreamChatHub(t *testing.T) {
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	l := listen(t, h.URL)

	// connected → presence to everyone.
	if st, _, b := upstreamCall(t, h.URL, "/api/upstream", l.id, "", "connections", "connected", `{"type":10}`); st != 204 {
		t.Fatalf("connected: %d %s", st, b)
	}
	if target, arg := l.next(t); target != "presence" || arg["connectionId"] != l.id || arg["event"] != "connected" || arg["userId"] != nil {
		t.Fatalf("presence %s %v", target, arg)
	}

	// sendMessage → newMessage to everyone, the message as the result.
	st, _, b := upstreamCall(t, h.URL, "/api/upstream", l.id, "ann", "messages", "sendMessage", invocation("1", "sendMessage", "hi"))
	if c := wantCompletion(t, st, b); c.InvocationID != "1" || string(c.Result) != `{"from":"ann","text":"hi"}` {
		t.Fatalf("sendMessage: %+v %s", c, c.Result)
	}
	if target, arg := l.next(t); target != "newMessage" || arg["from"] != "ann" || arg["text"] != "hi" {
		t.Fatalf("newMessage %s %v", target, arg)
	}
	// Anonymous: from is the connection id.
	st, _, b = upstreamCall(t, h.URL, "/api/upstream", l.id, "", "messages", "sendMessage", invocation("2", "sendMessage", "yo"))
	wantCompletion(t, st, b)
	if _, arg := l.next(t); arg["from"] != l.id {
		t.Fatalf("anonymous from %v", arg)
	}

	// joinGroup, sendToGroup, leaveGroup.
	st, _, b = upstreamCall(t, h.URL, "/api/upstream", l.id, "", "messages", "joinGroup", invocation("3", "joinGroup", "room 1"))
	if c := wantCompletion(t, st, b); c.Error != "" {
		t.Fatalf("joinGroup: %s", c.Error)
	}
	st, _, b = upstreamCall(t, h.URL, "/api/upstream", "other", "bob", "messages", "sendToGroup", invocation("4", "sendToGroup", "room 1", "to the room"))
	if c := wantCompletion(t, st, b); c.Error != "" {
		t.Fatalf("sendToGroup: %s", c.Error)
	}
	if target, arg := l.next(t); target != "newMessage" || arg["group"] != "room 1" || arg["from"] != "bob" || arg["text"] != "to the room" {
		t.Fatalf("group message %s %v", target, arg)
	}
	st, _, b = upstreamCall(t, h.URL, "/api/upstream", l.id, "", "messages", "leaveGroup", invocation("5", "leaveGroup", "room 1"))
	wantCompletion(t, st, b)
	upstreamCall(t, h.URL, "/api/upstream", "other", "bob", "messages", "sendToGroup", invocation("6", "sendToGroup", "room 1", "unheard"))
	upstreamCall(t, h.URL, "/api/upstream", "other", "bob", "messages", "sendMessage", invocation("7", "sendMessage", "after"))
	if _, arg := l.next(t); arg["text"] != "after" {
		t.Fatalf("left the group but got %v", arg)
	}

	// Unknown method and a bad group: error completions.
	st, _, b = upstreamCall(t, h.URL, "/api/upstream", l.id, "", "messages", "nope", invocation("8", "nope"))
	if c := wantCompletion(t, st, b); !strings.Contains(c.Error, `"nope"`) {
		t.Fatalf("unknown method: %+v", c)
	}
	st, _, b = upstreamCall(t, h.URL, "/api/upstream", l.id, "", "messages", "joinGroup", invocation("9", "joinGroup", " "))
	if c := wantCompletion(t, st, b); !strings.Contains(c.Error, "group name") {
		t.Fatalf("blank group: %+v", c)
	}

	// disconnected → presence.
	if st, _, b := upstreamCall(t, h.URL, "/api/upstream", "gone", "carl", "connections", "disconnected", `{"type":11}`); st != 204 {
		t.Fatalf("disconnected: %d %s", st, b)
	}
	if _, arg := l.next(t); arg["connectionId"] != "gone" || arg["userId"] != "carl" || arg["event"] != "disconnected" {
		t.Fatalf("presence %v", arg)
	}
}

func TestUpstreamRefusals(t *testing.T) {
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	st, _, b := do(t, "POST", h.URL+"/api/upstream", `{"type":10}`, map[string]string{
		"Content-Type": "application/json", "X-ASRS-Connection-Id": "c", "X-ASRS-Hub": "chat", "X-ASRS-Category": "connections", "X-ASRS-Event": "connected",
	})
	wantError(t, st, b, 401, apperr.CodeUpstreamSignatureMissing)
	st, _, b = do(t, "POST", h.URL+"/api/upstream", `{"type":10}`, map[string]string{
		"Content-Type": "application/json", "X-ASRS-Connection-Id": "c", "X-ASRS-Hub": "chat", "X-ASRS-Category": "connections", "X-ASRS-Event": "connected",
		"X-ASRS-Signature": signalr.UpstreamSignature("c", "another key"),
	})
	wantError(t, st, b, 401, apperr.CodeUpstreamSignatureMismatch)
	st, _, b = upstreamCall(t, h.URL, "/api/upstream", "c", "", "messages", "x", "{")
	wantError(t, st, b, 400, apperr.CodeUpstreamInvalidBody)
	st, _, b = do(t, "GET", h.URL+"/api/upstream", "", nil)
	wantError(t, st, b, 405, apperr.CodeMethodNotAllowed)
}

// TestUpstreamEnvelope serves the upstream function as the Functions host's
// JSON invocation envelope (forwarding off).
func TestUpstreamEnvelope(t *testing.T) {
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	body := invocation("1", "nope")
	env := map[string]any{"Data": map[string]any{"req": map[string]any{
		"Url": "http://localhost:7071/api/upstream?code=k", "Method": "POST", "Query": map[string]string{"code": "k"},
		"Headers": map[string][]string{
			"Content-Type": {"application/json"}, "X-ASRS-Connection-Id": {"c1"}, "X-ASRS-Hub": {"chat"},
			"X-ASRS-Category": {"messages"}, "X-ASRS-Event": {"nope"}, "X-ASRS-Signature": {signalr.UpstreamSignature("c1", devKey)},
		},
		"Body": body,
	}}, "Metadata": map[string]any{}}
	eb, _ := json.Marshal(env)
	st, _, b := do(t, "POST", h.URL+"/upstream", string(eb), map[string]string{"Content-Type": "application/json"})
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	var resp struct {
		Outputs struct{ Res customhandler.HTTPOutput }
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	c := wantCompletion(t, resp.Outputs.Res.StatusCode, []byte(resp.Outputs.Res.Body))
	if !strings.Contains(c.Error, `"nope"`) {
		t.Fatalf("%+v", c)
	}
}

func TestUpstreamSettings(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		code string
	}{
		{map[string]string{"UPSTREAM_ALLOW_UNSIGNED": "true", "WEBSITE_INSTANCE_ID": "x"}, apperr.CodeConfigUpstreamUnsigned},
		{map[string]string{"UPSTREAM_TOKEN_ISSUER": "https://login.microsoftonline.com/t/v2.0"}, apperr.CodeConfigIdentity},
		{map[string]string{"UPSTREAM_TIMEOUT": "1ms"}, apperr.CodeConfigInvalid},
	} {
		c.env["AzureSignalRConnectionString"] = "Endpoint=http://localhost;Port=8888;AccessKey=" + devKey + ";Version=1.0;"
		_, err := server.Load(c.env, t.TempDir())
		if apperr.Code(err) != c.code {
			t.Errorf("%v: %v, want %s", c.env, err, c.code)
		}
	}
}
