package emulator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/emulator"
)

// TestSSEBroadcastOrderAndCloseWithReason: handshake over POST + event
// stream, a broadcast, an ordered burst, then a REST close whose reason
// arrives as the Close message after what was queued, and the stream ends.
func TestSSEBroadcastOrderAndCloseWithReason(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connectSSE("chat", "alice")
	ws := e.connect("chat", "bob", false)
	if r := e.rest("HEAD", "/api/hubs/chat/connections/"+c.id, apiV, ""); r.status != 200 {
		t.Fatalf("HEAD connection after handshake: %d", r.status)
	}
	if r := e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"newMessage","arguments":[{"text":"hi"}]}`); r.status != 202 {
		t.Fatalf("broadcast: %d %s", r.status, r.body)
	}
	c.expectInvocation("newMessage", `{"text":"hi"}`)
	ws.expectInvocation("newMessage", `{"text":"hi"}`)

	const n = 300
	for i := range n {
		if r := e.rest("POST", "/api/hubs/chat/users/alice/:send", apiV, fmt.Sprintf(`{"target":"m","arguments":[%d,"x"]}`, i)); r.status != 202 {
			t.Fatalf("send %d: %d", i, r.status)
		}
	}
	for i := range n {
		expectSeq(t, c.client, i)
	}
	e.rest("POST", "/api/hubs/chat/users/alice/:send", apiV, `{"target":"last","arguments":[1]}`)
	if r := e.rest("DELETE", "/api/hubs/chat/connections/"+c.id, apiV+"&reason=bye+now", ""); r.status != 200 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	c.expectInvocation("last", "1")
	c.expectClose("bye now")
	if !c.waitEnd(5 * time.Second) {
		t.Fatal("the event stream did not end after the Close message")
	}
	e.waitGone("chat", c.id)
	ws.expectNothing(50 * time.Millisecond)
}

// TestSSEMultiLineRecord: a payload with line breaks (JSON whitespace)
// arrives as the same JSON (the event encoding itself is tested by
// TestAppendEvent and FuzzAppendEvent).
func TestSSEMultiLineRecord(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connectSSE("chat", "")
	body := "{\"target\":\"m\",\"arguments\":[{\r\n\"a\":\n1,\r\"b\":\"x\"}]}"
	if r := e.rest("POST", "/api/hubs/chat/:send", apiV, body); r.status != 202 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	m, ok := c.next(5 * time.Second)
	if !ok || m.Type != 1 || m.Target != "m" || len(m.Arguments) != 1 {
		t.Fatalf("got %+v ok=%v", m, ok)
	}
	var arg struct {
		A int
		B string
	}
	if err := jsonUnmarshal(m.Arguments[0], &arg); err != nil || arg.A != 1 || arg.B != "x" {
		t.Fatalf("argument %s: %+v %v", m.Arguments[0], arg, err)
	}
}

// TestSSEDisconnectCleansUp: when the client closes its event stream the
// connection leaves the hub, its user and its groups.
func TestSSEDisconnectCleansUp(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connectSSE("chat", "carol")
	if r := e.rest("PUT", "/api/hubs/chat/groups/g1/connections/"+c.id, apiV, ""); r.status != 200 {
		t.Fatalf("join: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/api/hubs/chat/users/carol", "/api/hubs/chat/groups/g1"} {
		if r := e.rest("HEAD", p, apiV, ""); r.status != 200 {
			t.Fatalf("HEAD %s before disconnect: %d", p, r.status)
		}
	}
	c.cancel() // the EventSource closes
	e.waitGone("chat", c.id)
	for _, p := range []string{"/api/hubs/chat/users/carol", "/api/hubs/chat/groups/g1"} {
		if r := e.rest("HEAD", p, apiV, ""); r.status != 404 {
			t.Fatalf("HEAD %s after disconnect: %d", p, r.status)
		}
	}
	if r := c.post(`{"type":6}` + "\x1e"); r.status != 404 {
		t.Fatalf("POST after the end: %d, want 404", r.status)
	}
}

// TestSSETokenChecks: the access_token query of the event stream is
// checked like the WebSocket's, with an explanation and without echoing the
// token; POSTs need the same user; DELETE and a second stream are refused.
func TestSSETokenChecks(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	tok := e.clientToken("chat", "dave")
	n := e.negotiate("chat", tok)
	wrong := sign(t, testKey, jwt.MapClaims{"aud": e.audBase + "/client/?hub=other", "exp": e.clock.Now().Add(time.Hour).Unix()})
	get := func(query string) restResp {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.clientURL("chat", n.ConnectionToken)+query, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return restResp{status: resp.StatusCode, header: resp.Header, body: b}
	}
	r := get("&access_token=" + url.QueryEscape(wrong))
	d := r.errorDetail(t)
	if r.status != 401 || d.Code != "Error.Unauthorized" || !strings.Contains(d.Message, "expected") ||
		!strings.Contains(d.Message, "/client/?hub=chat") || strings.Contains(string(r.body), wrong) {
		t.Fatalf("wrong audience: %d %s", r.status, r.body)
	}
	r = get("")
	if d := r.errorDetail(t); r.status != 401 || !strings.Contains(d.Message, "access_token") {
		t.Fatalf("no token: %d %s", r.status, r.body)
	}

	// A refused request does not use up the connection token.
	c := e.openSSE("chat", n.ConnectionToken, tok)
	c.id = n.ConnectionID
	other := e.clientToken("chat", "mallory")
	if r := c.request(http.MethodPost, `{"protocol":"json","version":1}`+"\x1e", other); r.status != 403 || r.errorDetail(t).Code != "Error.Forbidden" {
		t.Fatalf("POST as another user: %d %s", r.status, r.body)
	}
	if r := c.request(http.MethodPost, "x", ""); r.status != 401 {
		t.Fatalf("POST without token: %d", r.status)
	}
	c.handshake()
	if r := get("&access_token=" + url.QueryEscape(tok)); r.status != 409 || r.errorDetail(t).Code != "Error.Conflict" {
		t.Fatalf("second stream: %d %s", r.status, r.body)
	}
	if r := c.request(http.MethodDelete, "", tok); r.status != 400 {
		t.Fatalf("DELETE on an SSE connection: %d %s", r.status, r.body)
	}
	// A poll on an SSE connection cannot switch transports.
	if r := c.request(http.MethodGet, "", tok); r.status != 400 || !strings.Contains(r.errorDetail(t).Message, "mid-connection") {
		t.Fatalf("poll on an SSE connection: %d %s", r.status, r.body)
	}
	// Without a connection token there is nothing to attach to.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/client/?hub=chat&access_token="+url.QueryEscape(tok), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("event stream without id: %d", resp.StatusCode)
	}
}

// TestSSEInvocationAndHandshakeErrors: an invocation with an id gets an
// error Completion explaining serverless mode without upstream and the
// stream stays open; a MessagePack handshake is refused with {"error":…}
// (Server-Sent Events carry text only) and the stream ends.
func TestSSEInvocationAndHandshakeErrors(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connectSSE("chat", "")
	if r := c.post(`{"type":6}` + "\x1e" + `{"type":1,"invocationId":"7","target":"x","arguments":[]}` + "\x1e"); r.status != 200 {
		t.Fatalf("POST: %d", r.status)
	}
	m, ok := c.next(5 * time.Second)
	if !ok || m.Type != 3 || m.Error == nil || !strings.Contains(*m.Error, "serverless") {
		t.Fatalf("want a Completion explaining serverless mode, got %+v ok=%v", m, ok)
	}
	if r := e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"still","arguments":[1]}`); r.status != 202 {
		t.Fatalf("send: %d", r.status)
	}
	c.expectInvocation("still", "1")

	tok := e.clientToken("chat", "")
	n := e.negotiate("chat", tok)
	bad := e.openSSE("chat", n.ConnectionToken, tok)
	if r := bad.post(`{"protocol":"messagepack","version":1}` + "\x1e"); r.status != 200 {
		t.Fatalf("handshake POST: %d", r.status)
	}
	rec := bad.nextRaw(5 * time.Second)
	if !strings.Contains(string(rec), `"error":`) || !strings.Contains(string(rec), "Server-Sent Events carry text only") {
		t.Fatalf("handshake answer %q", rec)
	}
	if !bad.waitEnd(5 * time.Second) {
		t.Fatal("stream did not end after a refused handshake")
	}
}

// TestSSEPings: the server pings over the event stream.
func TestSSEPings(t *testing.T) {
	e := newEnv(t, emulator.Options{PingInterval: 50 * time.Millisecond})
	c := e.connectSSE("chat", "")
	if rec := c.nextRaw(2 * time.Second); string(rec) != `{"type":6}` {
		t.Fatalf("want a ping, got %q", rec)
	}
}

// TestSSESlowConsumerDisconnected: a client that stops reading its event
// stream is dropped once its queue is full; the sender never stalls.
func TestSSESlowConsumerDisconnected(t *testing.T) {
	e := newEnv(t, emulator.Options{QueueSize: 32})
	tok := e.clientToken("chat", "slow")
	n := e.negotiate("chat", tok)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.clientURL("chat", n.ConnectionToken)+"&access_token="+url.QueryEscape(tok), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() // never read
	hc := e.newHTTPClient("chat", n.ConnectionToken, tok, cancel)
	if r := hc.post(`{"protocol":"json","version":1}` + "\x1e"); r.status != 200 {
		t.Fatal(r.status)
	}
	pad := strings.Repeat("p", 32<<10)
	start := time.Now()
	for i := 0; ; i++ {
		r := e.rest("POST", "/api/hubs/chat/:send", apiV, fmt.Sprintf(`{"target":"m","arguments":[%d,"%s"]}`, i, pad))
		if r.status != 202 {
			t.Fatalf("send %d: %d", i, r.status)
		}
		if e.rest("HEAD", "/api/hubs/chat/connections/"+n.ConnectionID, apiV, "").status == 404 {
			break
		}
		if i > 2000 || time.Since(start) > 30*time.Second {
			t.Fatal("the slow SSE consumer was never disconnected")
		}
	}
}
