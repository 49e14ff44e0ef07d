package emulator_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/emulator"
)

// statefulClient negotiates with useStatefulReconnect=true and connects.
func (e *env) statefulClient(hub, user string) (c *client, tok, connToken string) {
	e.t.Helper()
	tok = e.clientToken(hub, user)
	n := e.negotiateWith(hub, tok, "negotiateVersion=1&useStatefulReconnect=true")
	if n.UseStatefulReconnect == nil || !*n.UseStatefulReconnect {
		e.t.Fatalf("negotiate did not offer stateful reconnect: %+v", n)
	}
	c = e.dial(hub, n.ConnectionToken, tok, false)
	c.id = n.ConnectionID
	// Version 2 of the protocol has Ack and Sequence (the JS client sends it
	// with stateful reconnect on).
	c.send(`{"protocol":"json","version":2}` + "\x1e")
	if rec := c.nextRaw(5 * time.Second); string(rec) != "{}" {
		e.t.Fatalf("handshake response %q", rec)
	}
	return c, tok, n.ConnectionToken
}

// expectSequence waits for a Sequence message with the given id.
func (c *client) expectSequence(want int64) {
	c.t.Helper()
	rec := c.nextRaw(5 * time.Second)
	var m struct {
		Type       int   `json:"type"`
		SequenceID int64 `json:"sequenceId"`
	}
	if err := jsonUnmarshal(rec, &m); err != nil || m.Type != 9 || m.SequenceID != want {
		c.t.Fatalf("got %q, want Sequence %d", rec, want)
	}
}

// TestStatefulReconnect: a client whose socket drops reconnects with the
// same connection token, gets a Sequence and every message it had not
// acknowledged, then what was sent while it was away, each exactly once and
// in order; its own resent invocation is handled once; the emulator acks.
func TestStatefulReconnect(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	// Without the query parameter negotiate offers nothing.
	if n := e.negotiate("chat", e.clientToken("chat", "x")); n.UseStatefulReconnect != nil {
		t.Fatalf("useStatefulReconnect offered unasked: %+v", n)
	}
	c, tok, connToken := e.statefulClient("chat", "alice")
	send := func(i string) {
		t.Helper()
		if r := e.rest("POST", "/api/hubs/chat/users/alice/:send", apiV, `{"target":"m","arguments":[`+i+`]}`); r.status != 202 {
			t.Fatalf("send: %d", r.status)
		}
	}
	for _, i := range []string{"1", "2", "3"} {
		send(i)
		c.expectInvocation("m", i)
	}
	// The client acknowledges message 1 and invokes (its sequenced message 1).
	c.send(`{"type":8,"sequenceId":1}` + "\x1e" + `{"type":1,"invocationId":"a","target":"X","arguments":[]}` + "\x1e")
	if m, ok := c.next(5 * time.Second); !ok || m.Type != 3 || m.InvocationID == nil || *m.InvocationID != "a" {
		t.Fatalf("completion: %+v %v", m, ok)
	}
	if rec := c.nextRaw(5 * time.Second); string(rec) != `{"type":8,"sequenceId":1}` {
		t.Fatalf("want the emulator's Ack of the invocation, got %q", rec)
	}
	c.ws.CloseNow()
	// Sent while the socket is away: queued.
	send("4")
	send("5")
	if r := e.rest("HEAD", "/api/hubs/chat/connections/"+c.id, apiV, ""); r.status != http.StatusOK {
		t.Fatalf("the connection is gone while it may still resume: %d", r.status)
	}

	c2 := e.dial("chat", connToken, tok, false) // no handshake on resume
	c2.expectSequence(2)
	c2.expectInvocation("m", "2")
	c2.expectInvocation("m", "3")
	// The completion (sequenced message 4) was not acknowledged either.
	if m, ok := c2.next(5 * time.Second); !ok || m.Type != 3 {
		t.Fatalf("replayed completion: %+v %v", m, ok)
	}
	c2.expectInvocation("m", "4")
	c2.expectInvocation("m", "5")
	// The client resends its invocation after its Sequence: a duplicate, not
	// answered again; a new one is.
	c2.send(`{"type":9,"sequenceId":1}` + "\x1e" + `{"type":1,"invocationId":"a","target":"X","arguments":[]}` + "\x1e" +
		`{"type":1,"invocationId":"b","target":"X","arguments":[]}` + "\x1e")
	m, ok := c2.next(5 * time.Second)
	if !ok || m.Type != 3 || *m.InvocationID != "b" {
		t.Fatalf("want only the completion of b, got %+v %v", m, ok)
	}
	// The Ack of b follows its completion (the reader enqueues it after
	// handling the batch). Only then send 6: the Ack and a message from
	// the REST API are enqueued by different goroutines, in no defined
	// order, and the protocol requires none.
	if rec := c2.nextRaw(5 * time.Second); string(rec) != `{"type":8,"sequenceId":2}` {
		t.Fatalf("want Ack 2, got %q", rec)
	}
	send("6")
	c2.expectInvocation("m", "6")
	// Another user cannot take the connection over.
	if _, resp, err := e.tryDial("chat", connToken, e.clientToken("chat", "mallory"), false); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("resume by another user: %v %v", err, resp)
	}
}

// TestStatefulReconnectWindow: past the reconnect window the connection is
// gone and a resume is refused, so the client falls back to a new
// connection.
func TestStatefulReconnectWindow(t *testing.T) {
	e := newEnv(t, emulator.Options{ReconnectWindow: 100 * time.Millisecond})
	c, tok, connToken := e.statefulClient("chat", "bob")
	c.ws.CloseNow()
	e.waitGone("chat", c.id)
	_, resp, err := e.tryDial("chat", connToken, tok, false)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("resume after the window: %v %v", err, resp)
	}
}

// TestStatefulReconnectBufferBound: past the replay buffer's bound the
// oldest unacknowledged messages are dropped, so the Sequence after a
// reconnect starts after them (and the JS client, missing them, closes).
func TestStatefulReconnectBufferBound(t *testing.T) {
	e := newEnv(t, emulator.Options{StatefulReconnectBufferSize: 250})
	c, tok, connToken := e.statefulClient("chat", "carol")
	arg := `"` + strings.Repeat("x", 60) + `"`
	for range 5 {
		if r := e.rest("POST", "/api/hubs/chat/users/carol/:send", apiV, `{"target":"m","arguments":[`+arg+`]}`); r.status != 202 {
			t.Fatalf("send: %d", r.status)
		}
		c.expectInvocation("m", arg)
	}
	c.ws.CloseNow()
	c2 := e.dial("chat", connToken, tok, false)
	// Each record is 101 bytes: two fit in 250, so 4 and 5 are kept.
	c2.expectSequence(4)
	c2.expectInvocation("m", arg)
	c2.expectInvocation("m", arg)
	c2.expectNothing(100 * time.Millisecond)
}

// TestStatefulReconnectKeepsGroups: a group joined before the drop still
// reaches the connection after the resume, and a message sent to the group
// while the socket was away arrives.
func TestStatefulReconnectKeepsGroups(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c, tok, connToken := e.statefulClient("chat", "dora")
	if r := e.rest("PUT", "/api/hubs/chat/groups/g/connections/"+c.id, apiV, ""); r.status != 200 {
		t.Fatalf("join: %d", r.status)
	}
	c.ws.CloseNow()
	if r := e.rest("POST", "/api/hubs/chat/groups/g/:send", apiV, `{"target":"g","arguments":[1]}`); r.status != 202 {
		t.Fatalf("send: %d", r.status)
	}
	c2 := e.dial("chat", connToken, tok, false)
	c2.expectSequence(1)
	c2.expectInvocation("g", "1")
}

// TestStatefulReconnectNeedsVersion2: negotiated with useStatefulReconnect
// but a version 1 handshake (a client without Ack/Sequence) gets a plain
// connection: a dropped socket ends it.
func TestStatefulReconnectNeedsVersion2(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	tok := e.clientToken("chat", "eve")
	n := e.negotiateWith("chat", tok, "negotiateVersion=1&useStatefulReconnect=true")
	c := e.dial("chat", n.ConnectionToken, tok, false)
	c.handshake() // version 1
	c.ws.CloseNow()
	e.waitGone("chat", n.ConnectionID)
	if _, resp, err := e.tryDial("chat", n.ConnectionToken, tok, false); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("resume of a version 1 connection: %v %v", err, resp)
	}
}
