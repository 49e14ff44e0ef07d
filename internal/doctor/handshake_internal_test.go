package doctor

import (
	"net/url"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

const defaultModeText = "SignalR Service is now in 'Default' service mode. Current mode works as a proxy that routes client traffic to the connected app servers. However app servers are not connected."

func TestJudgeHandshake(t *testing.T) {
	for _, tc := range []struct {
		reply, code, errText string
		problem              bool
	}{
		{reply: `{}`},
		{reply: ` { "error" : null } `},
		{reply: `{"error":""}`},
		{reply: `{"type":0}`},
		{reply: `{"error":"` + defaultModeText + `"}`, code: apperr.CodeServiceNotServerless, errText: defaultModeText},
		{reply: `{"error":"Handshake was canceled."}`, code: apperr.CodeServiceError, errText: "Handshake was canceled."},
		{reply: `{"error":42}`, code: apperr.CodeServiceError, errText: "42"},
		{reply: `{"error":"a\nb\u0000c"}`, code: apperr.CodeServiceError, errText: "a b c"},
		{reply: `{"type":6}`, code: apperr.CodeServiceError, problem: true},
		{reply: `null`, code: apperr.CodeServiceError, problem: true},
		{reply: `[]`, code: apperr.CodeServiceError, problem: true},
		{reply: `<html>`, code: apperr.CodeServiceError, problem: true},
		{reply: ``, code: apperr.CodeServiceError, problem: true},
	} {
		v := judgeHandshake([]byte(tc.reply))
		if v.code != tc.code || v.errText != tc.errText || (v.problem != "") != tc.problem {
			t.Errorf("judgeHandshake(%q) = %+v; want code %q errText %q problem %t", tc.reply, v, tc.code, tc.errText, tc.problem)
		}
	}
}

func TestClientSocketURL(t *testing.T) {
	for _, tc := range []struct{ in, want, shown string }{
		{"http://127.0.0.1:8888/client/?hub=chat", "ws://127.0.0.1:8888/client/?hub=chat&id=a%2Bb%2F%3D", "ws://127.0.0.1:8888/client/?hub=chat&id=<connectionToken>"},
		{"https://x.service.signalr.net/client/?hub=chat&asrs.op=%2Fchat", "wss://x.service.signalr.net/client/?hub=chat&asrs.op=%2Fchat&id=a%2Bb%2F%3D", "wss://x.service.signalr.net/client/?hub=chat&asrs.op=%2Fchat&id=<connectionToken>"},
	} {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientSocketURL(u, "a+b/="); got != tc.want {
			t.Errorf("clientSocketURL(%s) = %s, want %s", tc.in, got, tc.want)
		}
		if got := shownSocketURL(u); got != tc.shown {
			t.Errorf("shownSocketURL(%s) = %s, want %s", tc.in, got, tc.shown)
		}
	}
}

// FuzzJudgeHandshake judges arbitrary handshake answers (untrusted text
// from the network): it never panics, every code is registered, error text
// is printable and bounded, and only a JSON object without a truthy error
// or type passes.
func FuzzJudgeHandshake(f *testing.F) {
	for _, s := range []string{`{}`, `{"error":"` + defaultModeText + `"}`, `{"error":null}`, `{"type":1}`, `null`, `{"error":{"a":1}}`, "{\"error\":\"\\u001b[31mx\"}", `{"error":0.0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, reply []byte) {
		v := judgeHandshake(reply)
		if v.code == "" {
			if v.errText != "" || v.problem != "" || !strings.HasPrefix(strings.TrimSpace(string(reply)), "{") {
				t.Fatalf("%q passed with %+v", reply, v)
			}
			return
		}
		if _, ok := apperr.Lookup(v.code); !ok {
			t.Fatalf("unregistered code %q", v.code)
		}
		if (v.errText == "") == (v.problem == "") {
			t.Fatalf("%q: want exactly one of errText and problem, got %+v", reply, v)
		}
		if len(v.errText) > 300 || strings.ContainsFunc(v.errText, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("errText %q is not cleaned", v.errText)
		}
	})
}
