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

// TestLongPollingBroadcastOrderAndCloseWithReason: first poll answers at
// once, handshake over POST, a broadcast, an ordered burst (several records
// per poll), then a REST close: the Close message with the reason comes
// after what was queued, and the next poll answers 204.
func TestLongPollingBroadcastOrderAndCloseWithReason(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connectLongPolling("chat", "alice")
	if r := e.rest("HEAD", "/api/hubs/chat/users/alice", apiV, ""); r.status != 200 {
		t.Fatalf("HEAD user after handshake: %d", r.status)
	}
	if r := e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"newMessage","arguments":[{"text":"hi"}]}`); r.status != 202 {
		t.Fatalf("broadcast: %d %s", r.status, r.body)
	}
	c.expectInvocation("newMessage", `{"text":"hi"}`)
	const n = 300
	for i := range n {
		if r := e.rest("POST", "/api/hubs/chat/connections/"+c.id+"/:send", apiV, fmt.Sprintf(`{"target":"m","arguments":[%d,"x"]}`, i)); r.status != 202 {
			t.Fatalf("send %d: %d", i, r.status)
		}
	}
	for i := range n {
		expectSeq(t, c.client, i)
	}
	e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"last","arguments":[1]}`)
	if r := e.rest("POST", "/api/hubs/chat/users/alice/:closeConnections", apiV+"&reason=see+you", ""); r.status != 204 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	c.expectInvocation("last", "1")
	c.expectClose("see you")
	if !c.waitEnd(5*time.Second) || c.status() != http.StatusNoContent {
		t.Fatalf("polling did not end with 204 (last status %d)", c.status())
	}
	e.waitGone("chat", c.id)
	if r := e.rest("HEAD", "/api/hubs/chat/users/alice", apiV, ""); r.status != 404 {
		t.Fatalf("HEAD user after close: %d", r.status)
	}
}

// TestLongPollingDeleteCleansUp: DELETE answers 202, ends the outstanding
// poll with 204 and removes the connection from its user and groups.
func TestLongPollingDeleteCleansUp(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connectLongPolling("chat", "bob")
	if r := e.rest("PUT", "/api/hubs/chat/groups/g/connections/"+c.id, apiV, ""); r.status != 200 {
		t.Fatalf("join: %d", r.status)
	}
	if r := c.request(http.MethodDelete, "", c.bearer); r.status != http.StatusAccepted {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if !c.waitEnd(5*time.Second) || c.status() != http.StatusNoContent {
		t.Fatalf("outstanding poll did not end with 204 (status %d)", c.status())
	}
	e.waitGone("chat", c.id)
	for _, p := range []string{"/api/hubs/chat/users/bob", "/api/hubs/chat/groups/g"} {
		if r := e.rest("HEAD", p, apiV, ""); r.status != 404 {
			t.Fatalf("HEAD %s after DELETE: %d", p, r.status)
		}
	}
	// The client's late requests are answered as the end of a connection.
	if status, _ := c.pollOnce(context.Background()); status != http.StatusNoContent {
		t.Fatalf("poll after DELETE: %d, want 204", status)
	}
	if r := c.post(`{"type":6}` + "\x1e"); r.status != 404 {
		t.Fatalf("POST after DELETE: %d, want 404", r.status)
	}
}

// TestLongPollingTimeoutAndGone: an idle poll answers 200 empty after the
// poll timeout; a client that stops polling is considered gone after twice
// the poll timeout.
func TestLongPollingTimeoutAndGone(t *testing.T) {
	e := newEnv(t, emulator.Options{PollTimeout: 150 * time.Millisecond})
	tok := e.clientToken("chat", "")
	n := e.negotiate("chat", tok)
	c := e.startLongPolling("chat", n.ConnectionToken, tok)
	if r := c.post(`{"protocol":"json","version":1}` + "\x1e"); r.status != 200 {
		t.Fatal(r.status)
	}
	status, body := c.pollOnce(context.Background())
	if status != 200 || string(body) != "{}\x1e" {
		t.Fatalf("handshake poll: %d %q", status, body)
	}
	start := time.Now()
	status, body = c.pollOnce(context.Background())
	if took := time.Since(start); status != 200 || len(body) != 0 || took < 100*time.Millisecond || took > 3*time.Second {
		t.Fatalf("idle poll: %d %q after %v; want 200 empty after the poll timeout", status, body, took)
	}
	if r := e.rest("HEAD", "/api/hubs/chat/connections/"+n.ConnectionID, apiV, ""); r.status != 200 {
		t.Fatalf("connection gone too early: %d", r.status)
	}
	// No more polls: gone after 2 × 150 ms.
	e.waitGone("chat", n.ConnectionID)
	if status, _ := c.pollOnce(context.Background()); status != http.StatusNoContent {
		t.Fatalf("poll after being considered gone: %d, want 204", status)
	}
}

// TestLongPollingSupersededPoll: a second concurrent poll ends the first
// with 204 and receives the data.
func TestLongPollingSupersededPoll(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	tok := e.clientToken("chat", "")
	n := e.negotiate("chat", tok)
	c := e.startLongPolling("chat", n.ConnectionToken, tok)
	c.post(`{"protocol":"json","version":1}` + "\x1e")
	if status, body := c.pollOnce(context.Background()); status != 200 || string(body) != "{}\x1e" {
		t.Fatalf("handshake poll: %d %q", status, body)
	}
	// Two concurrent polls: whichever reaches the emulator second
	// supersedes the other, which ends at once with 204 (that answer is
	// the event: no guess at when the first poll has arrived).
	type answer struct {
		status int
		body   string
	}
	answers := make(chan answer, 2)
	for range 2 {
		go func() { s, b := c.pollOnce(context.Background()); answers <- answer{s, string(b)} }()
	}
	select {
	case a := <-answers:
		if a.status != http.StatusNoContent {
			t.Fatalf("superseded poll: %d %q, want 204", a.status, a.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("neither poll was superseded")
	}
	e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"m","arguments":[7]}`)
	select {
	case a := <-answers:
		if a.status != http.StatusOK || a.body != `{"type":1,"target":"m","arguments":[7]}`+"\x1e" {
			t.Fatalf("second poll got %d %q", a.status, a.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second poll got nothing")
	}
}

// TestLongPollingTokenChecks: an access_token in the query is checked with
// an explanation (the token is not echoed); an expired token on a later
// poll is refused with 401; without id the request is refused.
func TestLongPollingTokenChecks(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	tok := e.clientToken("chat", "erin")
	n := e.negotiate("chat", tok)
	wrong := sign(t, "not-the-key-not-the-key-not-the-key-xyz", jwt.MapClaims{"aud": e.audBase + "/client/?hub=chat", "exp": e.clock.Now().Add(time.Hour).Unix()})
	resp, err := http.Get(e.clientURL("chat", n.ConnectionToken) + "&access_token=" + url.QueryEscape(wrong))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := restResp{status: resp.StatusCode, header: resp.Header, body: b}
	if d := r.errorDetail(t); r.status != 401 || !strings.Contains(d.Message, "signature") || strings.Contains(string(b), wrong) ||
		resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("bad signature: %d %s", r.status, b)
	}

	c := e.openLongPolling("chat", n.ConnectionToken, tok)
	c.id = n.ConnectionID
	c.handshake()
	resp, err = http.Get(e.srv.URL + "/client/?hub=chat&access_token=" + url.QueryEscape(tok))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("poll without id: %d", resp.StatusCode)
	}
	// The token expires: the next poll is refused, and the client stops.
	e.clock.Advance(2 * time.Hour)
	e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"m","arguments":[1]}`) // ends the outstanding poll
	if !c.waitEnd(5*time.Second) || c.status() != 401 {
		t.Fatalf("poll with an expired token: status %d, want 401", c.status())
	}
}

// TestLongPollingSlowConsumer: a client that stops polling while messages
// keep coming is dropped once its queue is full; senders never stall.
func TestLongPollingSlowConsumer(t *testing.T) {
	e := newEnv(t, emulator.Options{QueueSize: 8})
	tok := e.clientToken("chat", "")
	n := e.negotiate("chat", tok)
	c := e.startLongPolling("chat", n.ConnectionToken, tok)
	c.post(`{"protocol":"json","version":1}` + "\x1e")
	start := time.Now()
	for i := range 40 {
		if r := e.rest("POST", "/api/hubs/chat/:send", apiV, fmt.Sprintf(`{"target":"m","arguments":[%d]}`, i)); r.status != 202 {
			t.Fatalf("send %d: %d", i, r.status)
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("senders stalled on a client that does not poll")
	}
	e.waitGone("chat", n.ConnectionID)
}

// TestHTTPTransportCORSPreflight: a browser's preflight for the POST and
// DELETE of the HTTP transports is allowed with credentials, and the actual
// answers carry the CORS headers too.
func TestHTTPTransportCORSPreflight(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	const origin = "http://localhost:5173"
	for _, method := range []string{"POST", "DELETE", "GET"} {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/client/?hub=chat&id=x", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-requested-with,x-signalr-user-agent")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), method) ||
			h.Get("Access-Control-Allow-Headers") != "authorization,content-type,x-requested-with,x-signalr-user-agent" {
			t.Fatalf("preflight for %s: %d %v", method, resp.StatusCode, h)
		}
	}
	c := e.connectLongPolling("chat", "")
	req, _ := http.NewRequest(http.MethodDelete, e.clientURL("chat", c.token), nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("DELETE with Origin: %d %v", resp.StatusCode, resp.Header)
	}
}
