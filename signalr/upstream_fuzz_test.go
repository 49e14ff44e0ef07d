package signalr_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/serverless-signalr/functions-go/signalr"
	"github.com/vmihailenco/msgpack/v5"
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

// FuzzParseCompletion feeds ParseCompletion (what a client, and the
// emulator, read from an upstream's answer) arbitrary records in either
// protocol: it never panics, what it accepts is an error, a result or
// void, never two of them, and AppendCompletion encodes it again into a
// record that parses to the same completion.
func FuzzParseCompletion(f *testing.F) {
	for _, proto := range []string{signalr.ProtocolJSON, signalr.ProtocolMessagePack} {
		u := &signalr.UpstreamRequest{Protocol: proto, InvocationID: "7"}
		for _, c := range []struct {
			result any
			err    string
		}{{nil, ""}, {nil, "failed"}, {map[string]any{"a": 1, "b": []string{"x"}}, ""}, {1.5, ""}} {
			b, err := u.AppendCompletion(nil, c.result, c.err)
			if err != nil {
				f.Fatal(err)
			}
			if _, err := signalr.ParseCompletion(proto, b); err != nil {
				f.Fatalf("seed %q refused: %v", b, err)
			}
			f.Add(proto == signalr.ProtocolMessagePack, b)
		}
	}
	f.Add(false, []byte(`{"type":3,"invocationId":"1","result":null}`+"\x1e"))
	f.Add(false, []byte(`{"type":3,"invocationId":"1","error":"x","result":1}`+"\x1e"))
	f.Add(true, []byte{0x05, 0x95, 0x03, 0x80, 0xa1, '1', 0x03})
	f.Add(true, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, mp bool, rec []byte) {
		proto := signalr.ProtocolJSON
		if mp {
			proto = signalr.ProtocolMessagePack
		}
		c, err := signalr.ParseCompletion(proto, rec)
		if err != nil {
			if c != nil {
				t.Fatalf("a completion beside the error %v", err)
			}
			return
		}
		if c.Error != "" && c.HasResult || !c.HasResult && c.Result != nil || c.HasResult && len(c.Result) == 0 {
			t.Fatalf("accepted %+v", c)
		}
		var result any
		if c.HasResult {
			result = json.RawMessage(c.Result)
			if mp {
				result = msgpack.RawMessage(c.Result)
			}
		}
		u := &signalr.UpstreamRequest{Protocol: proto, InvocationID: c.InvocationID}
		b, err := u.AppendCompletion(nil, result, c.Error)
		if err != nil {
			t.Fatalf("%+v does not encode again: %v", c, err)
		}
		c2, err := signalr.ParseCompletion(proto, b)
		if err != nil {
			t.Fatalf("%q, encoded again from %q, is refused: %v", b, rec, err)
		}
		same := c2.InvocationID == c.InvocationID && c2.Error == c.Error && c2.HasResult == c.HasResult
		if mp {
			same = same && bytes.Equal(c2.Result, c.Result)
		} else if c.HasResult {
			var a, b bytes.Buffer
			same = same && json.Compact(&a, c.Result) == nil && json.Compact(&b, c2.Result) == nil && bytes.Equal(a.Bytes(), b.Bytes())
		}
		if !same {
			t.Fatalf("%+v, encoded again as %q, parses to %+v", c, b, c2)
		}
	})
}
