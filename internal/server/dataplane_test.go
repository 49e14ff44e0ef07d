package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

var jsonCT = map[string]string{"Content-Type": "application/json"}

// dataplaneHandler is the handler on an emulator, with client-chosen user
// ids so that filters have users to select.
func dataplaneHandler(t *testing.T, extra ...string) string {
	t.Helper()
	cs, _, _ := startEmulator(t)
	env := map[string]string{"AzureSignalRConnectionString": cs, "DEV_ALLOW_CLIENT_USER_ID": "true"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return newHandler(t, env).URL
}

func broadcast(t *testing.T, h, body string) (int, []byte) {
	t.Helper()
	status, _, b := do(t, "POST", h+"/api/broadcast", body, jsonCT)
	return status, b
}

// marker sends "end" to everyone and checks that each listener's next
// message is it: nothing else reached them before.
func marker(t *testing.T, h string, ls ...*listener) {
	t.Helper()
	if s, b := broadcast(t, h, `{"target":"end","arguments":[{}]}`); s != 202 {
		t.Fatalf("marker: %d %s", s, b)
	}
	for _, l := range ls {
		if target, arg := l.next(t); target != "end" {
			t.Fatalf("%s got %s %v before the marker", l.id, target, arg)
		}
	}
}

func TestBroadcastFilterSendsToMatches(t *testing.T) {
	t.Parallel()
	h := dataplaneHandler(t)
	l1, l2 := listenAs(t, h, "listener-1"), listenAs(t, h, "listener-2")
	speaker, anon := listenAs(t, h, "speaker"), listen(t, h)
	if s, b := broadcast(t, h, `{"target":"news","arguments":[{"n":1}],"filter":"startswith(userId, 'listener-')"}`); s != 202 {
		t.Fatalf("broadcast: %d %s", s, b)
	}
	for _, l := range []*listener{l1, l2} {
		if target, arg := l.next(t); target != "news" || arg["n"] != float64(1) {
			t.Fatalf("%s: %s %v", l.id, target, arg)
		}
	}
	marker(t, h, speaker, anon, l1, l2)

	// excluded and groupName combine with the filter.
	body := fmt.Sprintf(`[{"action":"add","groupName":"room","filter":"userId ne 'listener-2'"},
		{"target":"room","arguments":[{}],"groupName":"room","filter":"userId ne null","excluded":[%q]}]`, speaker.id)
	if s, b := broadcast(t, h, body); s != 202 {
		t.Fatalf("broadcast: %d %s", s, b)
	}
	if target, _ := l1.next(t); target != "room" {
		t.Fatalf("listener-1 got %s", target)
	}
	marker(t, h, l1, l2, speaker, anon)
}

func TestBroadcastFilterRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	h := dataplaneHandler(t)
	l := listenAs(t, h, "u1")
	for _, tc := range []struct{ body, code, msg string }{
		{`[{"target":"a","arguments":[{}]},{"target":"b","filter":"userId eq"}]`, "broadcast.invalid_filter", "item 1: filter: invalid filter at position 9: expected userId"},
		{`{"target":"b","filter":"not length(userId) gt 5"}`, "broadcast.invalid_filter", "position 4"},
		{`{"target":"b","filter":"userId eq 'a'","userId":"a"}`, "broadcast.filter_conflict", "userId or connectionId"},
		{`{"target":"b","filter":"true","connectionId":"c"}`, "broadcast.filter_conflict", "userId or connectionId"},
		{`{"action":"removeAll","filter":"true"}`, "broadcast.filter_conflict", "add or remove"},
		{`{"action":"add","groupName":"g","filter":"true","ttl":5}`, "broadcast.filter_conflict", "ttl"},
		{`{"action":"add","groupName":"g","filter":"userId eq 'o''brien"}`, "broadcast.invalid_filter", "closing '"},
	} {
		s, b := broadcast(t, h, tc.body)
		e := wantError(t, s, b, 400, tc.code)
		if !strings.Contains(e.Error.Message, tc.msg) {
			t.Errorf("%s: message %q, want %q", tc.body, e.Error.Message, tc.msg)
		}
	}
	// The valid item before the bad one was not sent either.
	marker(t, h, l)
}

type presenceResp struct {
	Hub, Group  string
	Connections []struct {
		ConnectionID string  `json:"connectionId"`
		UserID       *string `json:"userId"`
	}
}

func presenceOf(t *testing.T, h, query string) presenceResp {
	t.Helper()
	status, _, b := do(t, "GET", h+"/api/presence?"+query, "", nil)
	if status != 200 {
		t.Fatalf("presence: %d %s", status, b)
	}
	var p presenceResp
	if err := json.Unmarshal(b, &p); err != nil || p.Connections == nil {
		t.Fatalf("presence body %s", b)
	}
	return p
}

func TestPresenceFollowsEveryPage(t *testing.T) {
	t.Parallel()
	h := dataplaneHandler(t)
	const n = 205 // more than one page of the service (200)
	ids := map[string]string{}
	for i := range n {
		l := listenAs(t, h, fmt.Sprintf("p-%03d", i))
		ids[l.id] = fmt.Sprintf("p-%03d", i)
	}
	other := listen(t, h)
	if s, b := broadcast(t, h, `{"action":"add","groupName":"big room","filter":"startswith(userId, 'p-')"}`); s != 202 {
		t.Fatalf("join: %d %s", s, b)
	}
	p := presenceOf(t, h, "group=big+room")
	if p.Hub != "chat" || p.Group != "big room" || len(p.Connections) != n {
		t.Fatalf("presence: hub %q group %q, %d connections, want %d", p.Hub, p.Group, len(p.Connections), n)
	}
	seen := map[string]bool{}
	for _, c := range p.Connections {
		if seen[c.ConnectionID] || c.UserID == nil || ids[c.ConnectionID] != *c.UserID {
			t.Fatalf("connection %s (user %v) listed twice or wrong", c.ConnectionID, c.UserID)
		}
		seen[c.ConnectionID] = true
	}
	if seen[other.id] {
		t.Fatal("a non-member is listed")
	}
	if p := presenceOf(t, h, "group=empty"); len(p.Connections) != 0 {
		t.Fatalf("empty group: %+v", p)
	}
	status, _, b := do(t, "GET", h+"/api/presence", "", nil)
	wantError(t, status, b, 400, "presence.missing_group")
	status, _, b = do(t, "GET", h+"/api/presence?group=%20", "", nil)
	wantError(t, status, b, 400, "presence.invalid_group")
	status, _, b = do(t, "GET", h+"/api/presence?group=g&hub=nothere", "", nil)
	if status != 403 {
		t.Fatalf("unknown hub: %d %s", status, b)
	}
}

// answer reads the next invocation on l, checks it carries an invocation
// id and target, and writes the completion rest (a JSON fragment: result or
// error) for it; "" writes nothing.
func (l *listener) answer(t *testing.T, target, rest string) {
	t.Helper()
	select {
	case m := <-l.recs:
		id, _ := m["invocationId"].(string)
		if m["target"] != target || id == "" {
			t.Fatalf("invocation %v, want %s with an invocation id", m, target)
		}
		if rest == "" {
			return
		}
		rec := `{"type":3,"invocationId":"` + id + `",` + rest + "}\x1e"
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.ws.Write(ctx, websocket.MessageText, []byte(rec)); err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no invocation")
	}
}

func invoke(t *testing.T, h, body string) <-chan [2]any {
	ch := make(chan [2]any, 1)
	go func() {
		status, _, b := do(t, "POST", h+"/api/invoke", body, jsonCT)
		ch <- [2]any{status, b}
	}()
	return ch
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	h := dataplaneHandler(t, "SIGNALR_INVOKE_MAX_TIMEOUT", "20s")
	l := listenAs(t, h, "u1")

	ch := invoke(t, h, fmt.Sprintf(`{"connectionId":%q,"target":"getState","arguments":[{"q":1}]}`, l.id))
	l.answer(t, "getState", `"result":{"ok":true,"n":2}`)
	r := <-ch
	if r[0] != 200 || strings.TrimSpace(string(r[1].([]byte))) != `{"result":{"ok":true,"n":2}}` {
		t.Fatalf("invoke: %v %s", r[0], r[1])
	}

	ch = invoke(t, h, fmt.Sprintf(`{"connectionId":%q,"target":"getState","arguments":[]}`, l.id))
	l.answer(t, "getState", `"error":"Error: not today"`)
	r = <-ch
	e := wantError(t, r[0].(int), r[1].([]byte), 502, "invoke.client_error")
	if !strings.Contains(e.Error.Message, "Error: not today") {
		t.Fatalf("client error message %q lacks the client's text", e.Error.Message)
	}

	ch = invoke(t, h, fmt.Sprintf(`{"connectionId":%q,"target":"getState","timeout":1}`, l.id))
	l.answer(t, "getState", "")
	r = <-ch
	wantError(t, r[0].(int), r[1].([]byte), 504, "invoke.timeout")

	status, _, b := do(t, "POST", h+"/api/invoke", `{"connectionId":"gone-1","target":"x"}`, jsonCT)
	e = wantError(t, status, b, 404, "invoke.connection_not_found")
	if !strings.Contains(e.Error.Message, "gone-1") {
		t.Fatalf("message %q does not name the connection", e.Error.Message)
	}
	for _, body := range []string{`{"target":"x"}`, `{"connectionId":"c"}`, `{"connectionId":"c","target":"x","arguments":{}}`,
		`{"connectionId":"c","target":"x","timeout":0}`, `{"connectionId":"c","target":"x","timeout":21}`, `{"connectionId":"c","target":"x","timeout":1.5}`, `[]`} {
		status, _, b := do(t, "POST", h+"/api/invoke", body, jsonCT)
		wantError(t, status, b, 400, "invoke.invalid_request")
	}
}

func TestInvokeDisconnectedClient(t *testing.T) {
	t.Parallel()
	h := dataplaneHandler(t)
	l := listenAs(t, h, "u1")
	ch := invoke(t, h, fmt.Sprintf(`{"connectionId":%q,"target":"getState"}`, l.id))
	l.answer(t, "getState", "")
	l.ws.CloseNow()
	r := <-ch
	wantError(t, r[0].(int), r[1].([]byte), 404, "invoke.connection_not_found")
}
