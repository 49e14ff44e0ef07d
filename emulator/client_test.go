package emulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/serverless-signalr/functions-go/emulator"
)

func TestNegotiateShape(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	n := e.negotiate("Chat", e.clientToken("chat", "alice"))
	if n.NegotiateVersion != 1 || n.ConnectionID == "" || n.ConnectionToken == "" || n.ConnectionID == n.ConnectionToken {
		t.Fatalf("negotiate = %+v", n)
	}
	if n.URL != nil || n.AccessToken != nil || n.UseStatefulReconnect != nil {
		t.Fatalf("negotiate must not carry url/accessToken/useStatefulReconnect: %+v", n)
	}
	var got []string
	for _, tr := range n.AvailableTransports {
		got = append(got, tr.Transport+":"+strings.Join(tr.TransferFormats, ","))
	}
	if want := "WebSockets:Text,Binary ServerSentEvents:Text LongPolling:Text,Binary"; strings.Join(got, " ") != want {
		t.Fatalf("transports = %q, want %q", got, want)
	}
}

func TestBroadcastHeaderAndQueryToken(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	node := e.connect("chat", "alice", false)
	browser := e.connect("chat", "bob", true)
	other := e.connect("otherhub", "carol", false)
	r := e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"newMessage","arguments":[{"text":"hi"}]}`)
	if r.status != 202 {
		t.Fatalf("broadcast status %d body %s", r.status, r.body)
	}
	node.expectInvocation("newMessage", `{"text":"hi"}`)
	browser.expectInvocation("newMessage", `{"text":"hi"}`)
	other.expectNothing(200 * time.Millisecond)
}

func TestSendToUserReachesAllItsConnections(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a1 := e.connect("chat", "alice", false)
	a2 := e.connect("chat", "alice", true)
	b := e.connect("chat", "bob", false)
	if r := e.rest("POST", "/api/hubs/chat/users/alice/:send", apiV, `{"Target":"m","Arguments":[1]}`); r.status != 202 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	a1.expectInvocation("m", "1")
	a2.expectInvocation("m", "1")
	b.expectNothing(200 * time.Millisecond)
}

func TestSendToConnectionAndExcluded(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("chat", "alice", false)
	b := e.connect("chat", "bob", false)
	c := e.connect("chat", "", false)
	if r := e.rest("POST", "/api/hubs/chat/connections/"+b.id+"/:send", apiV, `{"target":"m","arguments":["only-b"]}`); r.status != 202 {
		t.Fatalf("status %d", r.status)
	}
	b.expectInvocation("m", `"only-b"`)
	if r := e.rest("POST", "/api/hubs/chat/:send", apiV+"&excluded="+a.id+"&excluded="+c.id, `{"target":"m","arguments":["x"]}`); r.status != 202 {
		t.Fatalf("status %d", r.status)
	}
	b.expectInvocation("m", `"x"`)
	a.expectNothing(200 * time.Millisecond)
	c.expectNothing(50 * time.Millisecond)
}

func TestGroupsByConnection(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("chat", "alice", false)
	b := e.connect("chat", "bob", false)
	group := "/api/hubs/chat/groups/room1"
	if r := e.rest("HEAD", group, apiV, ""); r.status != 404 || r.header.Get("x-ms-error-code") != "Warning.Group.NotExisted" {
		t.Fatalf("empty group HEAD %d %v", r.status, r.header)
	}
	if r := e.rest("PUT", group+"/connections/"+a.id, apiV, ""); r.status != 200 {
		t.Fatalf("add status %d %s", r.status, r.body)
	}
	if r := e.rest("PUT", group+"/connections/"+b.id, apiV, ""); r.status != 200 {
		t.Fatalf("add status %d", r.status)
	}
	if r := e.rest("HEAD", group, apiV, ""); r.status != 200 {
		t.Fatalf("group HEAD %d", r.status)
	}
	e.rest("POST", group+"/:send", apiV+"&excluded="+b.id, `{"target":"g","arguments":[1]}`)
	a.expectInvocation("g", "1")
	b.expectNothing(100 * time.Millisecond)
	if r := e.rest("DELETE", group+"/connections/"+a.id, apiV, ""); r.status != 200 {
		t.Fatalf("remove status %d", r.status)
	}
	e.rest("POST", group+"/:send", apiV, `{"target":"g","arguments":[2]}`)
	b.expectInvocation("g", "2")
	a.expectNothing(100 * time.Millisecond)
	if r := e.rest("DELETE", "/api/hubs/chat/connections/"+b.id+"/groups", apiV, ""); r.status != 200 {
		t.Fatalf("remove-all status %d", r.status)
	}
	e.rest("POST", group+"/:send", apiV, `{"target":"g","arguments":[3]}`)
	b.expectNothing(100 * time.Millisecond)
	r := e.rest("PUT", group+"/connections/nope", apiV, "")
	if r.status != 404 || r.errorDetail(t).Code != "Error.Connection.NotExisted" {
		t.Fatalf("add missing connection: %d %s", r.status, r.body)
	}
}

func TestGroupsByUserWithTTL(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a1 := e.connect("chat", "alice", false)
	path := "/api/hubs/chat/users/alice/groups/vip"
	if r := e.rest("HEAD", path, apiV, ""); r.status != 404 || r.header.Get("x-ms-error-code") != "Info.User.NotInGroup" {
		t.Fatalf("HEAD before add: %d %v", r.status, r.header)
	}
	if r := e.rest("PUT", path, apiV+"&ttl=60", ""); r.status != 200 {
		t.Fatalf("PUT ttl status %d %s", r.status, r.body)
	}
	if r := e.rest("HEAD", path, apiV, ""); r.status != 200 {
		t.Fatalf("HEAD after add: %d", r.status)
	}
	// A later connection of the same user is in the group too.
	a2 := e.connect("chat", "alice", false)
	e.rest("POST", "/api/hubs/chat/groups/vip/:send", apiV, `{"target":"v","arguments":[1]}`)
	a1.expectInvocation("v", "1")
	a2.expectInvocation("v", "1")
	// After the ttl the membership is gone.
	e.clock.Advance(61 * time.Second)
	e.rest("POST", "/api/hubs/chat/groups/vip/:send", apiV, `{"target":"v","arguments":[2]}`)
	a1.expectNothing(100 * time.Millisecond)
	if r := e.rest("HEAD", path, apiV, ""); r.status != 404 {
		t.Fatalf("HEAD after ttl: %d", r.status)
	}

	// ttl=0: only current connections.
	if r := e.rest("PUT", path, apiV+"&ttl=0", ""); r.status != 200 {
		t.Fatalf("PUT ttl=0 status %d", r.status)
	}
	a3 := e.connect("chat", "alice", false)
	e.rest("POST", "/api/hubs/chat/groups/vip/:send", apiV, `{"target":"v","arguments":[3]}`)
	a1.expectInvocation("v", "3")
	a2.expectInvocation("v", "3")
	a3.expectNothing(100 * time.Millisecond)

	// Remove user from group: nobody of alice receives.
	if r := e.rest("DELETE", path, apiV, ""); r.status != 204 {
		t.Fatalf("DELETE status %d", r.status)
	}
	e.rest("POST", "/api/hubs/chat/groups/vip/:send", apiV, `{"target":"v","arguments":[4]}`)
	a1.expectNothing(100 * time.Millisecond)

	// No ttl, then remove from all groups.
	e.rest("PUT", path, apiV, "")
	e.rest("PUT", "/api/hubs/chat/users/alice/groups/other", apiV, "")
	if r := e.rest("DELETE", "/api/hubs/chat/users/alice/groups", apiV, ""); r.status != 204 {
		t.Fatalf("DELETE all status %d", r.status)
	}
	e.rest("POST", "/api/hubs/chat/groups/other/:send", apiV, `{"target":"v","arguments":[5]}`)
	a3.expectNothing(100 * time.Millisecond)
	if r := e.rest("PUT", path, apiV+"&ttl=-1", ""); r.status != 400 {
		t.Fatalf("negative ttl status %d", r.status)
	}
}

func TestCloseByRESTCarriesReason(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("chat", "alice", false)
	b := e.connect("chat", "bob", false)
	c := e.connect("chat", "carol", false)
	// Messages sent before the close are delivered first.
	e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"m","arguments":[1]}`)
	if r := e.rest("DELETE", "/api/hubs/chat/connections/"+a.id, apiV+"&reason=kicked+by+admin", ""); r.status != 200 {
		t.Fatalf("close one: %d", r.status)
	}
	a.expectInvocation("m", "1")
	a.expectClose("kicked by admin")
	r := e.rest("DELETE", "/api/hubs/chat/connections/"+a.id, apiV, "")
	if r.status != 404 || r.errorDetail(t).Code != "Warning.Connection.NotExisted" {
		t.Fatalf("close missing: %d %s", r.status, r.body)
	}
	if r := e.rest("POST", "/api/hubs/chat/users/bob/:closeConnections", apiV+"&reason=bye", ""); r.status != 204 {
		t.Fatalf("close user: %d", r.status)
	}
	b.expectInvocation("m", "1")
	b.expectClose("bye")
	if r := e.rest("POST", "/api/hubs/chat/:closeConnections", apiV+"&excluded="+c.id, ""); r.status != 204 {
		t.Fatalf("close all: %d", r.status)
	}
	c.expectInvocation("m", "1")
	c.expectNothing(100 * time.Millisecond)
	e.rest("PUT", "/api/hubs/chat/groups/g/connections/"+c.id, apiV, "")
	if r := e.rest("POST", "/api/hubs/chat/groups/g/:closeConnections", apiV, ""); r.status != 204 {
		t.Fatalf("close group: %d", r.status)
	}
	c.expectClose("")
}

// TestClientInvocationWithoutUpstream: as the service without upstream, an
// invocation with an id gets an error Completion saying no upstream is
// configured, one without an id and other client messages are ignored, and
// the connection stays open.
func TestClientInvocationWithoutUpstream(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("chat", "alice", false)
	a.send(`{"type":6}` + "\x1e" + `{"type":1,"target":"NoAnswer","arguments":[]}` + "\x1e" +
		`{"type":5,"invocationId":"9"}` + "\x1e" + `{"type":3,"invocationId":"8","result":1}` + "\x1e" +
		`{"type":1,"invocationId":"1","target":"Send","arguments":[]}` + "\x1e")
	m, ok := a.next(5 * time.Second)
	if !ok || m.Type != 3 || m.InvocationID == nil || *m.InvocationID != "1" || m.Error == nil || !strings.Contains(*m.Error, "no upstream is configured") {
		t.Fatalf("want an error Completion for invocation 1, got %+v ok=%v", m, ok)
	}
	if r := e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"m","arguments":[1]}`); r.status != 202 {
		t.Fatalf("send: %d", r.status)
	}
	a.expectInvocation("m", "1")
}

func TestHandshakeErrors(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for _, hs := range []string{`{"protocol":"blazorpack","version":1}`, `{"protocol":"messagepack","version":3}`, `{"protocol":"json","version":0}`, `not json`} {
		tok := e.clientToken("chat", "")
		n := e.negotiate("chat", tok)
		c := e.dial("chat", n.ConnectionToken, tok, false)
		c.send(hs + "\x1e")
		rec := c.nextRaw(5 * time.Second)
		var resp struct{ Error string }
		if err := jsonUnmarshal(rec, &resp); err != nil || resp.Error == "" {
			t.Fatalf("handshake %s: response %q", hs, rec)
		}
		if c.nextRaw(2*time.Second) != nil {
			t.Fatalf("connection not closed after failed handshake %s", hs)
		}
	}
}

func TestHandshakeWithTrailingRecordsAndPing(t *testing.T) {
	e := newEnv(t, emulator.Options{PingInterval: 50 * time.Millisecond})
	tok := e.clientToken("chat", "")
	n := e.negotiate("chat", tok)
	c := e.dial("chat", n.ConnectionToken, tok, true)
	// Handshake and a ping in one frame, as clients may send.
	c.send(`{"protocol":"json","version":1}` + "\x1e" + `{"type":6}` + "\x1e")
	if rec := c.nextRaw(5 * time.Second); string(rec) != "{}" {
		t.Fatalf("handshake response %q", rec)
	}
	start := time.Now()
	rec := c.nextRaw(5 * time.Second)
	if string(rec) != `{"type":6}` {
		t.Fatalf("want ping, got %q", rec)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("ping took %v with a 50ms interval", d)
	}
}

func TestConnectionTokenSingleUse(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	tok := e.clientToken("chat", "")
	n := e.negotiate("chat", tok)
	e.dial("chat", n.ConnectionToken, tok, false)
	_, resp, err := e.tryDial("chat", n.ConnectionToken, tok, false)
	if err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("reused token: err=%v resp=%v", err, resp)
	}
	_, resp, err = e.tryDial("chat", "unknown", tok, false)
	if err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown token: err=%v resp=%v", err, resp)
	}
}

func TestCloseDisconnectsClients(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("chat", "alice", false)
	if err := e.em.Close(); err != nil {
		t.Fatal(err)
	}
	m, ok := a.next(5 * time.Second)
	if !ok || m.Type != 7 || m.Error == nil || *m.Error != "the emulator is shutting down" || !m.AllowReconnect {
		t.Fatalf("want Close with allowReconnect on shutdown, got %+v ok=%v", m, ok)
	}
}

// TestNegotiateVersion0: without negotiateVersion (or with 0) negotiate
// answers version 0 as ASP.NET Core does: no connectionToken, and the
// transports take the connection id; versions above 1 get 1; a version
// that is not a number is refused.
func TestNegotiateVersion0(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for _, q := range []string{"", "negotiateVersion=0"} {
		tok := e.clientToken("chat", "zed")
		r := e.negotiateQuery("chat", "Bearer "+tok, q)
		status, body := r.status, r.body
		if status != 200 || strings.Contains(string(body), "connectionToken") {
			t.Fatalf("%q: %d %s", q, status, body)
		}
		var n struct {
			NegotiateVersion *int   `json:"negotiateVersion"`
			ConnectionID     string `json:"connectionId"`
		}
		if err := jsonUnmarshal(body, &n); err != nil || n.NegotiateVersion == nil || *n.NegotiateVersion != 0 || n.ConnectionID == "" {
			t.Fatalf("%q: %s", q, body)
		}
		c := e.dial("chat", n.ConnectionID, tok, false)
		c.handshake()
		if r := e.rest("HEAD", "/api/hubs/chat/connections/"+n.ConnectionID, apiV, ""); r.status != 200 {
			t.Fatalf("%q: the connection is not known by its id: %d", q, r.status)
		}
	}
	tok := e.clientToken("chat", "")
	if n := e.negotiateWith("chat", tok, "negotiateVersion=7"); n.NegotiateVersion != 1 || n.ConnectionToken == "" || n.ConnectionToken == n.ConnectionID {
		t.Fatalf("version 7: %+v", n)
	}
	if r := e.negotiateQuery("chat", "Bearer "+tok, "negotiateVersion=x"); r.status != 400 || !strings.Contains(string(r.body), "invalid protocol version") {
		t.Fatalf("version x: %d %s", r.status, r.body)
	}
}

// TestClientTimeout: a client that sends nothing for the client timeout is
// closed with a Close message saying why; one that pings stays.
func TestClientTimeout(t *testing.T) {
	e := newEnv(t, emulator.Options{ClientTimeout: 300 * time.Millisecond, PingInterval: time.Hour})
	pinger := e.connect("chat", "p", false)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = pinger.ws.Write(ctx, websocket.MessageText, []byte(`{"type":6}`+"\x1e"))
				cancel()
			}
		}
	}()
	defer func() { close(stop); <-done }()
	silent := e.connect("chat", "s", false)
	m, ok := silent.next(5 * time.Second)
	if !ok || m.Type != 7 || m.Error == nil || !strings.Contains(*m.Error, "client timeout") || !strings.Contains(*m.Error, "300ms") {
		t.Fatalf("want a Close explaining the client timeout, got %+v ok=%v", m, ok)
	}
	// The pinging client, connected before the silent one, is still there.
	if r := e.rest("POST", "/api/hubs/chat/users/p/:send", apiV, `{"target":"m","arguments":[1]}`); r.status != 202 {
		t.Fatalf("send: %d", r.status)
	}
	pinger.expectInvocation("m", "1")
}
