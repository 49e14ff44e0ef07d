package emulator_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/emulator"
)

const apiV2023 = "api-version=2023-07-01"

func (e *env) execute(hub, filter, body string) restResp {
	e.t.Helper()
	q := apiV2023
	if filter != "" {
		q += "&filter=" + url.QueryEscape(filter)
	}
	return e.rest("POST", "/api/hubs/"+hub+"/:execute", q, body)
}

func TestExecuteSendMessageByFilter(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	l1 := e.connect("chat", "listener-1", false)
	l2 := e.connect("chat", "listener-2", false)
	other := e.connect("chat", "speaker", false)
	anon := e.connect("chat", "", false)
	send := `[{"type":"SendMessage","message":{"target":"news","arguments":["hi"]}}]`
	if r := e.execute("chat", "startswith(userId, 'listener-')", send); r.status != 202 {
		t.Fatalf("execute: %d %s", r.status, r.body)
	}
	l1.expectInvocation("news", `"hi"`)
	l2.expectInvocation("news", `"hi"`)
	other.expectNothing(200 * time.Millisecond)
	anon.expectNothing(10 * time.Millisecond)

	// userId eq null selects the anonymous connection only.
	if r := e.execute("chat", "userId eq null", send); r.status != 202 {
		t.Fatalf("execute: %d %s", r.status, r.body)
	}
	anon.expectInvocation("news", `"hi"`)
	// Without a filter every connection of the hub gets it.
	if r := e.execute("chat", "", send); r.status != 202 {
		t.Fatalf("execute: %d %s", r.status, r.body)
	}
	for _, c := range []*client{l1, l2, other, anon} {
		c.expectInvocation("news", `"hi"`)
	}
}

func TestExecuteGroupsInOrder(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("chat", "a", false)
	b := e.connect("chat", "b", false)
	c := e.connect("chat", "c", false)
	// Join, then send to the group in the same call: the commands run in order.
	body := `[{"type":"JoinGroup","group":"room1"},{"type":"SendMessage","message":{"target":"joined","arguments":[]}}]`
	if r := e.execute("chat", "userId in ('a','b')", body); r.status != 202 {
		t.Fatalf("execute: %d %s", r.status, r.body)
	}
	for _, x := range []*client{a, b} {
		if m, ok := x.next(5 * time.Second); !ok || m.Target != "joined" {
			t.Fatalf("member: %+v %v", m, ok)
		}
	}
	if r := e.rest("HEAD", "/api/hubs/chat/groups/room1", apiV, ""); r.status != 200 {
		t.Fatalf("group room1: %d", r.status)
	}
	// The filter sees group membership: send to room1 members that are not a.
	msg := `[{"type":"SendMessage","message":{"target":"m","arguments":[1]}}]`
	if r := e.execute("chat", "'room1' in groups and userId ne 'a'", msg); r.status != 202 {
		t.Fatalf("execute: %d", r.status)
	}
	b.expectInvocation("m", "1")
	a.expectNothing(100 * time.Millisecond)
	c.expectNothing(10 * time.Millisecond)
	// User-level memberships count too.
	if r := e.rest("PUT", "/api/hubs/chat/users/c/groups/vip", apiV, ""); r.status != 200 {
		t.Fatalf("add user: %d", r.status)
	}
	if r := e.execute("chat", "'vip' in groups", msg); r.status != 202 {
		t.Fatalf("execute: %d", r.status)
	}
	c.expectInvocation("m", "1")
	// Leave by filter.
	if r := e.execute("chat", "'room1' in groups", `[{"type":"LeaveGroup","group":"room1"}]`); r.status != 202 {
		t.Fatalf("execute: %d", r.status)
	}
	if r := e.rest("HEAD", "/api/hubs/chat/groups/room1", apiV, ""); r.status != 404 {
		t.Fatalf("group room1 after LeaveGroup: %d", r.status)
	}
}

func TestExecuteCloseConnection(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	bot := e.connect("chat", "chatbot", false)
	human := e.connect("chat", "human", false)
	body := `[{"type":"CloseConnection","reason":"bots leave"},{"type":"SendMessage","message":{"target":"after","arguments":[]}}]`
	if r := e.execute("chat", "endswith(userId, 'bot')", body); r.status != 202 {
		t.Fatalf("execute: %d %s", r.status, r.body)
	}
	bot.expectClose("bots leave")
	human.expectNothing(100 * time.Millisecond)
	if r := e.rest("HEAD", "/api/hubs/chat/connections/"+bot.id, apiV, ""); r.status != 404 {
		t.Fatalf("closed connection exists: %d", r.status)
	}
}

func TestExecuteRejectsBeforeActing(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("chat", "a", false)
	send := `[{"type":"SendMessage","message":{"target":"m","arguments":[]}}]`
	for _, tc := range []struct {
		filter, body, target, msg string
	}{
		{"userId eq", send, "filter", "position 9: expected userId"},
		{"not length(userId) gt 5", send, "filter", "position 4"},
		{"userId eq 'a' and", send, "filter", "position 17"},
		{"", `{"type":"SendMessage"}`, "commands", "JSON array"},
		{"", `[` + send[1:len(send)-1] + `,{"type":"Dance"}]`, "commands", `command 1 has the unknown type "Dance"`},
		{"", `[{"type":"JoinGroup"}]`, "commands", `needs "group"`},
		{"", `[{"type":"SendMessage","message":{"arguments":[]}}]`, "commands", `"target" is required`},
		{"", `[{"type":"SendMessage"}]`, "commands", `needs "message"`},
	} {
		r := e.execute("chat", tc.filter, tc.body)
		if r.status != 400 {
			t.Errorf("%q %s: status %d, want 400", tc.filter, tc.body, r.status)
			continue
		}
		d := r.errorDetail(t)
		if d.Code != "Error.InvalidRequest" || d.Target != tc.target || !strings.Contains(d.Message, tc.msg) {
			t.Errorf("%q %s: %+v, want target %s and message containing %q", tc.filter, tc.body, d, tc.target, tc.msg)
		}
	}
	// Nothing of a rejected call was sent.
	a.expectNothing(100 * time.Millisecond)
}

func TestExecuteApplication(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	inApp := e.connect("app1_chat", "u", false)
	plain := e.connect("chat", "u", false)
	body := `[{"type":"SendMessage","message":{"target":"m","arguments":["app"]}}]`
	r := e.rest("POST", "/api/hubs/chat/:execute", apiV2023+"&application=app1&filter="+url.QueryEscape("userId eq 'u'"), body)
	if r.status != 202 {
		t.Fatalf("execute: %d %s", r.status, r.body)
	}
	inApp.expectInvocation("m", `"app"`)
	plain.expectNothing(100 * time.Millisecond)
}
