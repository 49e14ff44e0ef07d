package signalr_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/serverless-signalr/functions-go/signalr"
)

// FuzzParseUpstreamRequest feeds the upstream parser untrusted headers and
// bodies: it must never panic, and what it accepts must be a complete call
// whose completion encodes and parses back.
func FuzzParseUpstreamRequest(f *testing.F) {
	f.Add("connections", "connected", "c1", "name: Ann, role: x", "?a=b", "application/json", []byte(`{"type":10}`))
	f.Add("messages", "sendMessage", "c1", "", "", "application/json", []byte(`{"type":1,"invocationId":"1","target":"sendMessage","arguments":["hi"]}`))
	f.Add("messages", "m", "c1", ",,:", "?%zz", "application/x-msgpack", []byte{0x95, 0x01, 0x80, 0xa1, '1', 0xa1, 'm', 0x91, 0xc0})
	v, err := signalr.NewUpstreamValidator(signalr.UpstreamOptions{AccessKeys: []string{"k1", "k2"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, category, event, connID, claims, query, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/upstream", bytes.NewReader(body))
		h := r.Header
		for k, val := range map[string]string{
			"X-ASRS-Connection-Id": connID, "X-ASRS-Hub": "chat", "X-ASRS-Category": category, "X-ASRS-Event": event,
			"X-ASRS-User-Claims": claims, "X-ASRS-Client-Query": query, "Content-Type": contentType,
			"X-ASRS-Signature": signalr.UpstreamSignature(connID, "k2"),
		} {
			h[k] = []string{val}
		}
		u, err := v.Parse(r)
		if err != nil {
			if _, ok := err.(*signalr.UpstreamError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if u.ConnectionID != connID || u.Endpoint != 1 || (u.Protocol != signalr.ProtocolJSON && u.Protocol != signalr.ProtocolMessagePack) {
			t.Fatalf("accepted %+v", u)
		}
		if u.Query.Has("access_token") {
			t.Fatal("access_token kept")
		}
		if u.Category == signalr.UpstreamMessages {
			if u.Target != event {
				t.Fatalf("target %q, event %q", u.Target, event)
			}
			for i := range u.RawArguments {
				var x any
				_ = u.DecodeArgument(i, &x) // must not panic
			}
			for _, msg := range []string{"", "failed"} {
				b, err := u.AppendCompletion(nil, nil, msg)
				if err != nil {
					t.Fatal(err)
				}
				c, err := signalr.ParseCompletion(u.Protocol, b)
				if err != nil || c.InvocationID != u.InvocationID || c.Error != msg {
					t.Fatalf("completion %q: %+v %v", b, c, err)
				}
			}
		}
	})
}
