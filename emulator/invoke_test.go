package emulator_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/emulator"
)

// invokeAsync calls :invoke on connection id in the background.
func (e *env) invokeAsync(hub, id, body string) <-chan restResp {
	ch := make(chan restResp, 1)
	go func() {
		ch <- e.rest("POST", "/api/hubs/"+hub+"/connections/"+id+"/:invoke", apiV2024, body)
	}()
	return ch
}

// expectClientInvocation waits for an Invocation of target that carries an
// invocation id and returns the id.
func (c *client) expectClientInvocation(target, args string) string {
	c.t.Helper()
	m, ok := c.next(5 * time.Second)
	if !ok {
		c.t.Fatalf("no invocation of %s", target)
	}
	a, _ := json.Marshal(m.Arguments)
	if m.Type != 1 || m.Target != target || m.InvocationID == nil || *m.InvocationID == "" || string(a) != args {
		c.t.Fatalf("got type=%d target=%q args=%s invocationId=%v, want %s%s with an invocation id", m.Type, m.Target, a, m.InvocationID, target, args)
	}
	return *m.InvocationID
}

func waitResp(t *testing.T, ch <-chan restResp) restResp {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal(":invoke did not answer")
		return restResp{}
	}
}

func TestInvokeResult(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connect("chat", "u", false)
	ch := e.invokeAsync("chat", c.id, `{"target":"ask","arguments":["q",2]}`)
	id := c.expectClientInvocation("ask", `["q",2]`)
	c.send(`{"type":3,"invocationId":"` + id + `","result":{"message":"Hello, World!"}}` + "\x1e")
	r := waitResp(t, ch)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"result":{"message":"Hello, World!"}}` {
		t.Fatalf("invoke: %d %s", r.status, r.body)
	}

	// A void completion: no result.
	ch = e.invokeAsync("chat", c.id, `{"target":"ping"}`)
	id = c.expectClientInvocation("ping", `[]`)
	c.send(`{"type":3,"invocationId":"` + id + `"}` + "\x1e")
	if r := waitResp(t, ch); r.status != 200 || strings.TrimSpace(string(r.body)) != `{}` {
		t.Fatalf("void invoke: %d %s", r.status, r.body)
	}
}

func TestInvokeClientError(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connect("chat", "u", false)
	ch := e.invokeAsync("chat", c.id, `{"target":"ask","arguments":[]}`)
	id := c.expectClientInvocation("ask", `[]`)
	c.send(`{"type":3,"invocationId":"` + id + `","error":"Error: no way"}` + "\x1e")
	r := waitResp(t, ch)
	if r.status != 400 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if d := r.errorDetail(t); d.Code != "Error.Invocation.Failed" || d.Message != "Error: no way" {
		t.Fatalf("%+v", d)
	}
}

func TestInvokeTimeout(t *testing.T) {
	e := newEnv(t, emulator.Options{InvokeTimeout: 300 * time.Millisecond})
	c := e.connect("chat", "u", false)
	ch := e.invokeAsync("chat", c.id, `{"target":"ask","arguments":[]}`)
	id := c.expectClientInvocation("ask", `[]`)
	r := waitResp(t, ch)
	if r.status != 504 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if d := r.errorDetail(t); d.Code != "Error.Invocation.Timeout" || !strings.Contains(d.Message, c.id) {
		t.Fatalf("%+v", d)
	}
	// A late answer is ignored and the connection stays usable.
	c.send(`{"type":3,"invocationId":"` + id + `","result":1}` + "\x1e")
	if r := e.rest("HEAD", "/api/hubs/chat/connections/"+c.id, apiV, ""); r.status != 200 {
		t.Fatalf("connection after a late answer: %d", r.status)
	}
}

func TestInvokeDisconnectAndUnknown(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connect("chat", "u", false)
	ch := e.invokeAsync("chat", c.id, `{"target":"ask","arguments":[]}`)
	c.expectClientInvocation("ask", `[]`)
	c.ws.CloseNow()
	r := waitResp(t, ch)
	if r.status != 404 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if d := r.errorDetail(t); d.Code != "Error.Connection.NotExisted" || !strings.Contains(d.Message, "disconnected") {
		t.Fatalf("%+v", d)
	}
	r = e.rest("POST", "/api/hubs/chat/connections/nope/:invoke", apiV2024, `{"target":"ask"}`)
	if r.status != 404 || r.errorDetail(t).Code != "Error.Connection.NotExisted" {
		t.Fatalf("unknown connection: %d %s", r.status, r.body)
	}
	r = e.rest("POST", "/api/hubs/chat/connections/nope/:invoke", apiV2024, `{"arguments":[]}`)
	if r.status != 400 {
		t.Fatalf("no target: %d %s", r.status, r.body)
	}
}

func TestStreams(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connect("chat", "u", false)
	path := "/api/hubs/chat/connections/" + c.id + "/streams/s1/"
	for _, item := range []string{`1`, `{"a":"b"}`} {
		if r := e.rest("POST", path+":send", apiV2024, item); r.status != 202 {
			t.Fatalf("send: %d %s", r.status, r.body)
		}
		if rec := string(c.nextRaw(5 * time.Second)); rec != `{"type":2,"invocationId":"s1","item":`+item+`}` {
			t.Fatalf("stream item %s", rec)
		}
	}
	if r := e.rest("POST", path+":send", apiV2024+"&completed=true", `"last"`); r.status != 202 {
		t.Fatalf("send completed: %d", r.status)
	}
	if rec := string(c.nextRaw(5 * time.Second)); rec != `{"type":2,"invocationId":"s1","item":"last"}` {
		t.Fatalf("last item %s", rec)
	}
	if rec := string(c.nextRaw(5 * time.Second)); rec != `{"type":3,"invocationId":"s1"}` {
		t.Fatalf("completion %s", rec)
	}
	if r := e.rest("POST", "/api/hubs/chat/connections/"+c.id+"/streams/s2/:complete", apiV2024+"&reason=boom", ""); r.status != 202 {
		t.Fatalf("complete: %d", r.status)
	}
	if rec := string(c.nextRaw(5 * time.Second)); rec != `{"type":3,"invocationId":"s2","error":"boom"}` {
		t.Fatalf("error completion %s", rec)
	}
	for _, tc := range []struct {
		path, query, body string
		status            int
	}{
		{path + ":send", apiV2024, `not json`, 400},
		{path + ":send", apiV2024 + "&completed=maybe", `1`, 400},
		{"/api/hubs/chat/connections/" + c.id + "/streams/%20/:send", apiV2024, `1`, 400},
		{"/api/hubs/chat/connections/" + c.id + "/streams/" + strings.Repeat("x", 101) + "/:complete", apiV2024, ``, 400},
		{"/api/hubs/chat/connections/nope/streams/s1/:send", apiV2024, `1`, 404},
	} {
		if r := e.rest("POST", tc.path, tc.query, tc.body); r.status != tc.status {
			t.Errorf("%s?%s: %d, want %d (%s)", tc.path, tc.query, r.status, tc.status, r.body)
		}
	}
}
