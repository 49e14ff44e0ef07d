package emulator

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzSplitRecords checks the 0x1E record splitter and the handshake parser
// on arbitrary client frames: splitting loses and invents nothing, and the
// handshake parser never panics and accepts only json or messagepack version 1 or 2.
func FuzzSplitRecords(f *testing.F) {
	f.Add([]byte("{\"protocol\":\"json\",\"version\":1}\x1e"))
	f.Add([]byte("{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":6}\x1e{\"ty"))
	f.Add([]byte("\x1e\x1e"))
	f.Add([]byte("{\"protocol\":\"messagepack\",\"version\":1}\x1e"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, rest := splitRecords(data)
		var joined []byte
		for _, r := range recs {
			if bytes.IndexByte(r, recordSeparator) >= 0 {
				t.Fatalf("record %q contains a separator", r)
			}
			joined = append(joined, r...)
			joined = append(joined, recordSeparator)
		}
		if bytes.IndexByte(rest, recordSeparator) >= 0 {
			t.Fatalf("rest %q contains a separator", rest)
		}
		joined = append(joined, rest...)
		if !bytes.Equal(joined, data) {
			t.Fatalf("split/join changed the input")
		}
		for _, r := range recs {
			if p, v, err := parseHandshake(r); err == nil {
				var h struct {
					Protocol string
					Version  int
				}
				if err := json.Unmarshal(r, &h); err != nil || h.Protocol != p.String() || h.Version != v || (v != 1 && v != 2) {
					t.Fatalf("accepted handshake %q as %v", r, p)
				}
			}
			_, _ = parseJSONMessage(r)
		}
	})
}

// FuzzParseRESTPath checks the REST router on arbitrary methods and escaped
// paths: it never panics, and a match names an operation with non-empty
// captures for the segments its shape has.
func FuzzParseRESTPath(f *testing.F) {
	f.Add("POST", "/api/hubs/chat/:send")
	f.Add("PUT", "/api/hubs/chat/groups/a%2Fb/connections/abc")
	f.Add("HEAD", "/api/v1/hubs/chat/users/a%20b")
	f.Add("DELETE", "/api/hubs/chat/users/u/groups")
	f.Add("GET", "/api/%zz/hubs")
	f.Add("POST", "/api/hubs//:send")
	f.Add("HEAD", "/api/health")
	f.Fuzz(func(t *testing.T, method, path string) {
		rt, err := parseRESTPath(method, path)
		if err != nil {
			if rt.op != opNone {
				t.Fatalf("error with op %d", rt.op)
			}
			return
		}
		switch rt.op {
		case opNone:
			t.Fatal("match without an operation")
		case opHealth, opAccessKey:
			return
		}
		if rt.hub == "" {
			t.Fatalf("op %d without hub for %q", rt.op, path)
		}
		switch rt.op {
		case opSendUser, opCloseUser, opUserExists, opUserLeaveAll, opUserJoinGroup, opUserLeaveGroup, opUserInGroup:
			if rt.user == "" {
				t.Fatalf("user op without user for %q", path)
			}
		case opSendConn, opCloseConn, opConnExists, opConnLeaveAll, opConnJoinGroup, opConnLeaveGroup:
			if rt.conn == "" {
				t.Fatalf("connection op without id for %q", path)
			}
		}
		switch rt.op {
		case opSendGroup, opCloseGroup, opGroupExists, opConnJoinGroup, opConnLeaveGroup, opUserJoinGroup, opUserLeaveGroup, opUserInGroup:
			if rt.group == "" {
				t.Fatalf("group op without group for %q", path)
			}
		}
	})
}

// TestParseRESTPathTable pins the routing of the escaped shapes.
func TestParseRESTPathTable(t *testing.T) {
	cases := []struct {
		method, path string
		want         restRoute
	}{
		{"PUT", "/api/hubs/Chat/groups/a%2Fb/connections/c1", restRoute{op: opConnJoinGroup, hub: "Chat", group: "a/b", conn: "c1"}},
		{"POST", "/api/v1/hubs/chat/users/a%20b", restRoute{op: opSendUser, legacy: true, hub: "chat", user: "a b"}},
		{"POST", "/api/hubs/chat/users/%3Asend/:send", restRoute{op: opSendUser, hub: "chat", user: ":send"}},
		{"HEAD", "/api/hubs/chat/users/u/groups/g", restRoute{op: opUserInGroup, hub: "chat", user: "u", group: "g"}},
		{"DELETE", "/api/hubs/chat/connections/c/groups", restRoute{op: opConnLeaveAll, hub: "chat", conn: "c"}},
	}
	for _, c := range cases {
		got, err := parseRESTPath(c.method, c.path)
		if err != nil || got != c.want {
			t.Errorf("%s %s = %+v, %v; want %+v", c.method, c.path, got, err, c.want)
		}
	}
}

// FuzzMsgpackRecords checks the MessagePack record reader on arbitrary
// client bytes: splitting never panics and loses nothing (the records and
// the rest re-frame to the input), no record is over the limit, and parsing
// a record and converting its values to JSON never panics and yields valid
// JSON.
func FuzzMsgpackRecords(f *testing.F) {
	f.Add([]byte{0x02, 0x91, 0x06})
	f.Add([]byte{0x0c, 0x96, 0x01, 0x80, 0xc0, 0xa1, 't', 0x91, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x90})
	f.Add([]byte{0x05, 0x94, 0x03, 0x80, 0xa1, 0x31, 0x02})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0x80, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, rest, err := splitBinaryRecords(data, 1<<16)
		var joined []byte
		for _, r := range recs {
			if len(r) > 1<<16 {
				t.Fatalf("record of %d bytes over the limit", len(r))
			}
			joined = appendBinaryRecord(joined, r)
			m, err := parseMsgpackMessage(r)
			if err != nil {
				continue
			}
			for _, v := range append(append([][]byte{m.Result, m.Item}, m.Arguments...), r) {
				if len(v) == 0 {
					continue
				}
				if j, err := msgpackToJSON(v); err == nil && !json.Valid(j) {
					t.Fatalf("invalid JSON %q from %x", j, v)
				}
			}
		}
		if err == nil && !bytes.HasSuffix(data, rest) {
			t.Fatalf("rest %x is not the end of the input", rest)
		}
		if err == nil && !bytes.Equal(append(joined, rest...), data) && canonicalPrefixes(data) {
			t.Fatalf("split/join changed the input")
		}
	})
}

// canonicalPrefixes reports whether every length prefix in data is the
// shortest encoding (only then does re-framing give back the same bytes).
func canonicalPrefixes(data []byte) bool {
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 {
			return true
		}
		if len(binary.AppendUvarint(nil, n)) != k {
			return false
		}
		if uint64(len(data)-k) < n {
			return true
		}
		data = data[k+int(n):]
	}
	return true
}

// FuzzDecodeBinaryPayload checks the decoder of the binary REST payload
// (the body of an application/octet-stream :send, a MessagePack map from
// hub protocol name to that protocol's framed Invocation) on arbitrary
// bytes: it never panics, and what it accepts is an Invocation whose JSON
// arguments are valid JSON and whose record in either protocol, carried or
// converted, is again exactly one Invocation of the same target (and, in
// JSON, of the same arguments).
func FuzzDecodeBinaryPayload(f *testing.F) {
	payload := func(m map[string][]byte) []byte {
		b, err := msgpack.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	jsonRec := []byte(`{"type":1,"target":"t","arguments":[1,"x",{"a":null}]}` + "\x1e")
	mp, err := msgpack.Marshal([]any{1, map[string]string{}, nil, "t", []any{[]byte{1, 2, 3}, 1.5, "x"}})
	if err != nil {
		f.Fatal(err)
	}
	mpRec := append(binary.AppendUvarint(nil, uint64(len(mp))), mp...)
	for _, valid := range []map[string][]byte{{"json": jsonRec}, {"messagepack": mpRec}, {"json": jsonRec, "messagepack": mpRec}} {
		if _, err := decodeBinaryPayload(payload(valid)); err != nil {
			f.Fatalf("seed %q refused: %v", valid, err)
		}
		f.Add(payload(valid))
	}
	f.Add(payload(map[string][]byte{"json": []byte(`{"type":1,"target":"t","invocationId":"1","arguments":[]}` + "\x1e")}))
	f.Add([]byte{0x81, 0xa4, 'j', 's', 'o', 'n', 0xc6, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeBinaryPayload(data)
		if err != nil {
			if m != nil {
				t.Fatalf("a message beside the error %v", err)
			}
			return
		}
		if m.typ != msgInvocation || m.target == "" || m.invocationID != "" {
			t.Fatalf("accepted %+v", m)
		}
		for _, a := range m.args {
			if !json.Valid(a) {
				t.Fatalf("invalid JSON argument %q", a)
			}
		}
		for p := range numProtocols {
			rec := m.encode(p)
			cm, err := parseFramedInvocation(p, rec)
			if err != nil {
				t.Fatalf("%v record %q: %v", p, rec, err)
			}
			// A MessagePack target that is not UTF-8 reaches JSON clients with
			// U+FFFD in place of the bad bytes, as a JS client decoding the
			// MessagePack record would read it too.
			if utf8.ValidString(m.target) && cm.Target != m.target || !utf8.ValidString(cm.Target) && p == protoJSON {
				t.Fatalf("%v record %q: target %q, want %q", p, rec, cm.Target, m.target)
			}
			// The JSON arguments come from the JSON record when there is one,
			// else from the MessagePack one (a carried MessagePack record may
			// differ in its arguments: the decoder compares only targets).
			if p == protoJSON && len(cm.Arguments) != len(m.args) {
				t.Fatalf("JSON record %q: %d arguments, want %d", rec, len(cm.Arguments), len(m.args))
			}
		}
	})
}
