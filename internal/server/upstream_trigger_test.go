package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// triggerBinding is the signalRTrigger binding of an example function.json.
type triggerBinding struct {
	Type, Direction, Name, HubName, Category, Event, ConnectionStringSetting string
	ParameterNames                                                           []string
}

// TestSignalRTriggerExamples posts, for every example function folder of
// docs/examples/signalr-trigger, the envelope the Functions host sends for
// its signalRTrigger (Data.<binding name> = the InvocationContext, as an
// object and JSON-encoded in a string) to POST /<folder>, and checks that the
// chat hub answers it: the result in ReturnValue, and the effect on a
// listener.
func TestSignalRTriggerExamples(t *testing.T) {
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	l := listen(t, h.URL)

	dirs, err := filepath.Glob("../../docs/examples/signalr-trigger/*/function.json")
	if err != nil || len(dirs) != 6 {
		t.Fatalf("example function.json files: %v %v", dirs, err)
	}
	bindings := map[string]triggerBinding{}
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var fj struct{ Bindings []triggerBinding }
		if err := json.Unmarshal(b, &fj); err != nil || len(fj.Bindings) != 1 {
			t.Fatalf("%s: %v", p, err)
		}
		tb := fj.Bindings[0]
		folder := filepath.Base(filepath.Dir(p))
		if tb.Type != "signalRTrigger" || tb.Direction != "in" || tb.HubName != "chat" || tb.Event != folder ||
			tb.ConnectionStringSetting != "AzureSignalRConnectionString" || (tb.Category != "messages" && tb.Category != "connections") {
			t.Fatalf("%s: binding %+v", p, tb)
		}
		bindings[folder] = tb
	}

	call := func(folder string, args []any, encode bool) (int, map[string]any) {
		t.Helper()
		tb := bindings[folder]
		if tb.Category == "messages" && len(args) != len(tb.ParameterNames) {
			t.Fatalf("%s takes %v", folder, tb.ParameterNames)
		}
		ctx := map[string]any{
			"Arguments": args, "Category": tb.Category, "Event": tb.Event, "Hub": "chat", "ConnectionId": l.id,
			"UserId": "", "Headers": map[string]string{"X-ASRS-Hub": "chat"}, "Query": map[string]string{"room": "1"}, "Claims": map[string]string{},
		}
		var data any = ctx
		if encode {
			b, _ := json.Marshal(ctx)
			data = string(b)
		}
		env, _ := json.Marshal(map[string]any{"Data": map[string]any{tb.Name: data}, "Metadata": map[string]any{}})
		st, _, b := do(t, "POST", h.URL+"/"+folder, string(env), map[string]string{"Content-Type": "application/json"})
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %d %q", folder, st, b)
		}
		return st, out
	}

	if st, out := call("connected", nil, false); st != 200 || out["ReturnValue"] != nil {
		t.Fatalf("connected: %d %v", st, out)
	}
	if _, arg := l.next(t); arg["event"] != "connected" || arg["connectionId"] != l.id {
		t.Fatalf("presence %v", arg)
	}
	for _, encode := range []bool{false, true} {
		st, out := call("sendMessage", []any{"via trigger"}, encode)
		rv, _ := out["ReturnValue"].(map[string]any)
		if st != 200 || rv["text"] != "via trigger" || rv["from"] != l.id {
			t.Fatalf("sendMessage (encoded %v): %d %v", encode, st, out)
		}
		if _, arg := l.next(t); arg["text"] != "via trigger" {
			t.Fatalf("newMessage %v", arg)
		}
	}
	if st, _ := call("joinGroup", []any{"g"}, false); st != 200 {
		t.Fatalf("joinGroup %d", st)
	}
	if st, _ := call("sendToGroup", []any{"g", "to g"}, true); st != 200 {
		t.Fatalf("sendToGroup %d", st)
	}
	if _, arg := l.next(t); arg["group"] != "g" || arg["text"] != "to g" {
		t.Fatalf("group message %v", arg)
	}
	if st, _ := call("leaveGroup", []any{"g"}, false); st != 200 {
		t.Fatalf("leaveGroup %d", st)
	}
	// A failing method fails the function (non-2xx), with the hub's message.
	st, out := call("joinGroup", []any{" "}, false)
	e, _ := out["error"].(map[string]any)
	if st != 502 || e["code"] != apperr.CodeUpstreamMethodFailed || !strings.Contains(e["message"].(string), "group name") {
		t.Fatalf("failing method: %d %v", st, out)
	}
	if st, _ := call("disconnected", nil, false); st != 200 {
		t.Fatalf("disconnected %d", st)
	}
	if _, arg := l.next(t); arg["event"] != "disconnected" {
		t.Fatalf("presence %v", arg)
	}

	// Not a trigger envelope: the handler's usual 404.
	st, _, b := do(t, "POST", h.URL+"/nosuch", `{"Data":{"req":{"Method":"POST"}}}`, map[string]string{"Content-Type": "application/json"})
	wantError(t, st, b, 404, apperr.CodeRouteNotFound)
}
