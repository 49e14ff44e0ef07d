package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/msgpackscan"
	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/vmihailenco/msgpack/v5"
)

// TestJSONToMsgpackValues: every JSON value a REST payload can carry reaches
// a MessagePack client as the same value (integers stay integers, large
// ones too), and converts back to the same JSON.
func TestJSONToMsgpackValues(t *testing.T) {
	cases := []struct {
		json string
		want any // what vmihailenco decodes the MessagePack to
	}{
		{`0`, int8(0)},
		{`-1`, int8(-1)},
		{`300`, int16(300)},
		{`9007199254740993`, int64(9007199254740993)},
		{`9223372036854775807`, int64(math.MaxInt64)},
		{`-9223372036854775808`, int64(math.MinInt64)},
		{`18446744073709551615`, uint64(math.MaxUint64)},
		{`1.5`, 1.5},
		{`1e300`, 1e300},
		{`2.0`, 2.0},
		{`"héllo ✓ 😀"`, "héllo ✓ 😀"},
		{`null`, nil},
		{`true`, true},
		{`false`, false},
		{`[1,"a",[null]]`, []any{int8(1), "a", []any{nil}}},
		{`{"b":1,"a":{"c":[true]}}`, map[string]any{"b": int8(1), "a": map[string]any{"c": []any{true}}}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		if err := jsonToMsgpack(enc, []byte(c.json)); err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		got, err := msgpack.NewDecoder(bytes.NewReader(buf.Bytes())).DecodeInterface()
		if err != nil {
			t.Fatalf("%s: decode: %v", c.json, err)
		}
		if g, w := jsonText(t, got), jsonText(t, c.want); g != w || typeName(got) != typeName(c.want) {
			t.Errorf("%s: got %#v, want %#v", c.json, got, c.want)
		}
		back, err := msgpackToJSON(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: back: %v", c.json, err)
		}
		if string(back) != c.json && !(c.json == "2.0" && string(back) == "2") && !(c.json == "1e300" && string(back) == "1e+300") {
			t.Errorf("%s: round trip gave %s", c.json, back)
		}
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// typeName is the kind of a decoded value: integers of any width are one
// kind, so are floats.
func typeName(v any) string {
	switch v.(type) {
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		return "int"
	case float32, float64:
		return "float"
	}
	return fmt.Sprintf("%T", v)
}

// TestMsgpackToJSONOthers: bin, timestamps and non-string keys become JSON
// a JSON client can read.
func TestMsgpackToJSONOthers(t *testing.T) {
	ts := time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC)
	v := map[any]any{"bin": []byte{1, 2, 3}, int64(7): "seven", "t": ts, "nan": math.NaN()}
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := msgpackToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if m["bin"] != "AQID" || m["7"] != "seven" || m["t"] != "2026-12-01T10:00:00.000000005Z" || m["nan"] != nil {
		t.Fatalf("got %s", got)
	}
}

// TestMsgpackMessages: each message type the emulator sends encodes to what
// the spec defines, and each a client sends parses back.
func TestMsgpackMessages(t *testing.T) {
	cases := []struct {
		m    *outMessage
		want []any
	}{
		{newInvocation("t", []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"x"`)}), []any{int8(1), map[string]any{}, nil, "t", []any{int8(1), "x"}, []any{}}},
		{&outMessage{typ: msgCompletion, invocationID: "i", err: "bad"}, []any{int8(3), map[string]any{}, "i", int8(1), "bad"}},
		{&outMessage{typ: msgCompletion, invocationID: "i"}, []any{int8(3), map[string]any{}, "i", int8(2)}},
		{&outMessage{typ: msgCompletion, invocationID: "i", result: json.RawMessage(`{"a":1}`)}, []any{int8(3), map[string]any{}, "i", int8(3), map[string]any{"a": int8(1)}}},
		{pingMessage, []any{int8(6)}},
		{newClose("bye", true), []any{int8(7), "bye", true}},
		{newClose("", false), []any{int8(7), nil, false}},
		{&outMessage{typ: msgAck, sequenceID: 5}, []any{int8(8), int8(5)}},
		{&outMessage{typ: msgSequence, sequenceID: 300}, []any{int8(9), int16(300)}},
	}
	for _, c := range cases {
		framed := c.m.encode(protoMsgpack)
		recs, rest, err := splitBinaryRecords(framed, readLimit)
		if err != nil || len(recs) != 1 || len(rest) != 0 {
			t.Fatalf("%v: framing: %d records, rest %d, %v", c.want, len(recs), len(rest), err)
		}
		got, err := msgpack.NewDecoder(bytes.NewReader(recs[0])).DecodeInterface()
		if err != nil {
			t.Fatal(err)
		}
		if jsonText(t, got) != jsonText(t, c.want) {
			t.Errorf("got %#v, want %#v", got, c.want)
		}
		// The same message parses back (what a client would send).
		pm, err := parseMsgpackMessage(recs[0])
		if err != nil || pm.Type != c.m.typ || pm.InvocationID != c.m.invocationID || pm.Error != c.m.err || pm.AllowReconnect != c.m.allowReconnect || pm.SequenceID != c.m.sequenceID {
			t.Errorf("%v: parsed %+v, %v", c.want, pm, err)
		}
	}
}

// TestParseMsgpackInvocation: arguments keep their raw encoding and convert
// to JSON; streamIds and headers are read.
func TestParseMsgpackInvocation(t *testing.T) {
	b, _ := msgpack.Marshal([]any{1, map[string]string{"h": "v"}, "42", "Send", []any{"hi", 1.5, []byte{9}}, []string{"s1"}})
	m, err := parseMsgpackMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != 1 || m.InvocationID != "42" || m.Target != "Send" || len(m.Arguments) != 3 || m.Headers["h"] != "v" || len(m.StreamIDs) != 1 || !bytes.Equal(m.Raw, b) {
		t.Fatalf("got %+v", m)
	}
	var js []string
	for _, a := range m.Arguments {
		j, err := protoMsgpack.toJSON(a)
		if err != nil {
			t.Fatal(err)
		}
		js = append(js, string(j))
	}
	if strings.Join(js, ",") != `"hi",1.5,"CQ=="` {
		t.Fatalf("arguments as JSON: %v", js)
	}
	for _, bad := range [][]byte{{}, {0x91}, {0x92, 0x01, 0x80}, {0x91, 0xc1}, append(b, 0)} {
		if _, err := parseMsgpackMessage(bad); err == nil {
			t.Errorf("%x parsed", bad)
		}
	}
}

// TestSplitBinaryRecords: several records per buffer, a record split across
// reads, and bad prefixes.
func TestSplitBinaryRecords(t *testing.T) {
	big := bytes.Repeat([]byte{0x90}, 300) // needs a two-byte prefix
	all := appendBinaryRecord(appendBinaryRecord(nil, []byte{0x91, 0x06}), big)
	recs, rest, err := splitBinaryRecords(all, readLimit)
	if err != nil || len(recs) != 2 || len(rest) != 0 || !bytes.Equal(recs[1], big) {
		t.Fatalf("got %d records, rest %d, %v", len(recs), len(rest), err)
	}
	for i := range all {
		recs, rest, err := splitBinaryRecords(all[:i], readLimit)
		if err != nil || len(recs) > 1 || (len(recs) == 1 && i < 3) || len(rest)+sumLen(recs)+prefixLens(recs) != i {
			t.Fatalf("prefix %d: %d records, rest %d, %v", i, len(recs), len(rest), err)
		}
	}
	if _, _, err := splitBinaryRecords([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, readLimit); err == nil {
		t.Error("6-byte prefix accepted")
	}
	if _, _, err := splitBinaryRecords([]byte{0x81, 0x01}, 100); err == nil {
		t.Error("record over the limit accepted")
	}
}

func sumLen(recs [][]byte) int {
	n := 0
	for _, r := range recs {
		n += len(r)
	}
	return n
}

func prefixLens(recs [][]byte) int {
	n := 0
	for _, r := range recs {
		n += len(appendBinaryRecord(nil, r)) - len(r)
	}
	return n
}

// TestInvokeClient: the :invoke hook sends an Invocation with an id and
// returns the client's Completion; a connection that ends answers
// errConnectionGone.
func TestInvokeClient(t *testing.T) {
	e := New(Options{})
	for _, p := range []protocol{protoJSON, protoMsgpack} {
		c := newConn("c1", "chat", "", nil, 8, e.log)
		c.proto = p
		type res struct {
			m   clientMessage
			err error
		}
		done := make(chan res, 1)
		go func() {
			m, err := e.invokeClient(context.Background(), c, "Ask", []json.RawMessage{json.RawMessage(`2`)})
			done <- res{m, err}
		}()
		sent := <-c.queue
		if sent.typ != msgInvocation || sent.invocationID == "" || sent.target != "Ask" {
			t.Fatalf("sent %+v", sent)
		}
		// The client answers in its protocol.
		var rec []byte
		if p == protoMsgpack {
			rec, _ = msgpack.Marshal([]any{3, map[string]string{}, sent.invocationID, 3, 4})
		} else {
			rec = []byte(`{"type":3,"invocationId":"` + sent.invocationID + `","result":4}`)
		}
		m, err := parseClientMessage(p, rec)
		if err != nil {
			t.Fatal(err)
		}
		e.onClientMessage(c, m)
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if j, err := p.toJSON(r.m.Result); err != nil || string(j) != "4" {
			t.Fatalf("%v: result %s, %v", p, j, err)
		}
		go func() {
			_, err := e.invokeClient(context.Background(), c, "Ask", nil)
			done <- res{err: err}
		}()
		<-c.queue
		c.markDone()
		if r := <-done; r.err != errConnectionGone {
			t.Fatalf("after the end: %v", r.err)
		}
	}
}

// TestSendFramed: a record already framed in the connection's protocol (an
// upstream's completion) is sent byte for byte, and the protocol names the
// content type of an unframed upstream message.
func TestSendFramed(t *testing.T) {
	for p, ct := range map[protocol]string{protoJSON: "application/json", protoMsgpack: "application/x-msgpack"} {
		c := newConn("c1", "chat", "", nil, 8, New(Options{}).log)
		c.proto = p
		framed := []byte("any framed bytes\x1e")
		if !c.sendFramed(framed) {
			t.Fatal("not queued")
		}
		if got := (<-c.queue).encode(p); !bytes.Equal(got, framed) {
			t.Fatalf("%v: sent %q", p, got)
		}
		if p.contentType() != ct {
			t.Fatalf("%v: content type %q", p, p.contentType())
		}
	}
}

// TestMsgpackLengthsAreCheckedFirst: a bin or str whose header declares
// more bytes than the message holds is refused without allocating what it
// declares (a 5-byte bin 32 header asks for up to 4 GiB; the fuzz target
// found the emulator running out of memory on one), in a client's
// record, in any value converted to JSON and in a REST binary payload;
// a bin that fits still decodes.
func TestMsgpackLengthsAreCheckedFirst(t *testing.T) {
	d := testutil.AllocatedBytes(func() {
		for _, code := range []byte{0xc6, 0xdb} { // bin 32, str 32
			huge := []byte{code, 0xc6, 0xc6, 0xc6, 0xc6, 1, 2, 3} // 3.3 GB declared, 3 bytes there
			record := append([]byte{0x96, 0x01, 0x80, 0xc0, 0xa1, 't', 0x91}, huge...)
			payload := append([]byte{0x81, 0xab}, "messagepack"...)
			payload = append(payload, huge...)
			for range 10 {
				if _, err := msgpackToJSON(huge); !errors.Is(err, msgpackscan.ErrTruncated) {
					t.Fatalf("msgpackToJSON: %v", err)
				}
				if _, err := parseMsgpackMessage(record); !errors.Is(err, msgpackscan.ErrTruncated) {
					t.Fatalf("parseMsgpackMessage: %v", err)
				}
				if _, err := decodeBinaryPayload(payload); err == nil || !strings.Contains(err.Error(), "not well-formed MessagePack") {
					t.Fatalf("decodeBinaryPayload: %v", err)
				}
			}
		}
	})
	if d > 1<<20 {
		t.Fatalf("refusing 60 short messages allocated %d bytes", d)
	}
	ok, err := msgpackToJSON([]byte{0xc6, 0, 0, 0, 3, 1, 2, 3})
	if err != nil || string(ok) != `"AQID"` {
		t.Fatalf("a bin 32 that fits: %s %v", ok, err)
	}
}
