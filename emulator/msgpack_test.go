package emulator_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/serverless-signalr/functions-go/emulator"
)

// mpClient is a MessagePack hub protocol client on a WebSocket, doing what
// @microsoft/signalr-protocol-msgpack does: the handshake as JSON text,
// then varint length-prefixed records in binary frames.
type mpClient struct {
	t       *testing.T
	ws      *websocket.Conn
	id      string
	buf     []byte
	records chan []any
}

func (e *env) connectMsgpack(hub, user string) *mpClient {
	e.t.Helper()
	tok := e.clientToken(hub, user)
	n := e.negotiate(hub, tok)
	ws, _, err := e.tryDial(hub, n.ConnectionToken, tok, false)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ws.CloseNow() })
	c := &mpClient{t: e.t, ws: ws, id: n.ConnectionID, records: make(chan []any, 1024)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"messagepack","version":1}`+"\x1e")); err != nil {
		e.t.Fatal(err)
	}
	typ, data, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || !bytes.HasPrefix(data, []byte("{}\x1e")) {
		e.t.Fatalf("handshake answer: type %v %q %v", typ, data, err)
	}
	c.buf = append(c.buf, data[3:]...)
	go c.readLoop()
	return c
}

func (c *mpClient) readLoop() {
	defer close(c.records)
	for {
		c.split()
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		if typ != websocket.MessageBinary {
			c.t.Errorf("text frame %q on a MessagePack connection", data)
			return
		}
		c.buf = append(c.buf, data...)
	}
}

// split decodes the complete records in buf.
func (c *mpClient) split() {
	for {
		n, k := binary.Uvarint(c.buf)
		if k <= 0 || uint64(len(c.buf)-k) < n {
			return
		}
		rec := c.buf[k : k+int(n)]
		c.buf = c.buf[k+int(n):]
		var v []any
		if err := msgpack.Unmarshal(rec, &v); err != nil {
			c.t.Errorf("record %x: %v", rec, err)
			return
		}
		c.records <- v
	}
}

// next returns the next message that is not a ping.
func (c *mpClient) next(timeout time.Duration) []any {
	c.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case v, ok := <-c.records:
			if !ok {
				return nil
			}
			if len(v) > 0 && reflect.DeepEqual(toJSONValue(c.t, v[0]), json.Number("6")) {
				continue
			}
			return v
		case <-timer.C:
			return nil
		}
	}
}

func (c *mpClient) send(v []any) {
	c.t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, append(binary.AppendUvarint(nil, uint64(len(b))), b...)); err != nil {
		c.t.Fatal(err)
	}
}

// toJSONValue normalises a decoded value for comparison with JSON: through
// JSON text, numbers as json.Number.
func toJSONValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSONValue(t, b)
}

func decodeJSONValue(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// TestMsgpackAndJSONClientsSeeTheSameValues: one REST broadcast reaches a
// JSON and a MessagePack client with every value intact.
func TestMsgpackAndJSONClientsSeeTheSameValues(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	j := e.connect("chat", "a", false)
	m := e.connectMsgpack("chat", "b")
	args := `[9007199254740993, -42, 18446744073709551615, 1.25, "héllo ✓ 😀", null, true, false, {"n":{"a":[1,[2,{"b":null}]]}}, []]`
	if r := e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"all","arguments":`+args+`}`); r.status != 202 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	jm, ok := j.next(5 * time.Second)
	if !ok {
		t.Fatal("JSON client got nothing")
	}
	mm := m.next(5 * time.Second)
	if len(mm) != 6 || mm[3] != "all" || mm[2] != nil {
		t.Fatalf("MessagePack invocation %#v", mm)
	}
	want := decodeJSONValue(t, []byte(args))
	gotJSON := decodeJSONValue(t, mustJSON(t, jm.Arguments))
	gotMP := toJSONValue(t, mm[4])
	if !reflect.DeepEqual(gotJSON, want) || !reflect.DeepEqual(gotMP, want) {
		t.Fatalf("values differ:\nsent %v\nJSON %v\nMessagePack %v", want, gotJSON, gotMP)
	}
	// Integers arrive as MessagePack integers, not floats.
	if _, isFloat := mm[4].([]any)[0].(float64); isFloat {
		t.Fatalf("a large integer arrived as a float")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMsgpackInvocationWithoutUpstream: a MessagePack invocation with an id
// gets a MessagePack error Completion; a REST close reaches the client as a
// MessagePack Close.
func TestMsgpackInvocationWithoutUpstream(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connectMsgpack("chat", "")
	c.send([]any{6})
	c.send([]any{1, map[string]string{}, "7", "Send", []any{"x"}, []string{}})
	got := c.next(5 * time.Second)
	if len(got) != 5 || !reflect.DeepEqual(toJSONValue(t, got[3]), json.Number("1")) || got[2] != "7" || !strings.Contains(got[4].(string), "no upstream") {
		t.Fatalf("completion %#v", got)
	}
	if r := e.rest("DELETE", "/api/hubs/chat/connections/"+c.id, apiV+"&reason=bye", ""); r.status != http.StatusOK {
		t.Fatalf("close: %d", r.status)
	}
	got = c.next(5 * time.Second)
	if len(got) != 3 || got[1] != "bye" || got[2] != false {
		t.Fatalf("close %#v", got)
	}
}

// TestMsgpackLongPolling: a MessagePack client on long polling gets its
// records, length-prefixed, in poll answers.
func TestMsgpackLongPolling(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	tok := e.clientToken("chat", "")
	n := e.negotiate("chat", tok)
	hc := e.openLongPolling("chat", n.ConnectionToken, tok)
	if r := hc.post(`{"protocol":"messagepack","version":1}` + "\x1e"); r.status != 200 {
		t.Fatalf("handshake: %d", r.status)
	}
	deadline := time.After(5 * time.Second)
	var buf []byte
	for !bytes.HasPrefix(buf, []byte("{}\x1e")) {
		select {
		case f := <-hc.frames:
			buf = append(buf, f...)
		case <-deadline:
			t.Fatalf("no handshake answer: %q", buf)
		}
	}
	buf = buf[3:]
	if r := e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"lp","arguments":[12345678901]}`); r.status != 202 {
		t.Fatalf("send: %d", r.status)
	}
	for {
		if n, k := binary.Uvarint(buf); k > 0 && uint64(len(buf)-k) >= n {
			var v []any
			if err := msgpack.Unmarshal(buf[k:k+int(n)], &v); err != nil {
				t.Fatal(err)
			}
			if len(v) != 6 || v[3] != "lp" || !reflect.DeepEqual(toJSONValue(t, v[4]), []any{json.Number("12345678901")}) {
				t.Fatalf("invocation %#v", v)
			}
			return
		}
		select {
		case f := <-hc.frames:
			buf = append(buf, f...)
		case <-deadline:
			t.Fatalf("no invocation: %x", buf)
		}
	}
}

// binaryPayload builds what the .NET Management SDK sends in transient
// mode: a MessagePack map from protocol name to framed record (bin).
func binaryPayload(t *testing.T, records map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	_ = enc.EncodeMapLen(len(records))
	for _, name := range []string{"json", "messagepack"} {
		if rec, ok := records[name]; ok {
			_ = enc.EncodeString(name)
			_ = enc.EncodeBytes(rec)
		}
	}
	return buf.String()
}

func framedMsgpack(t *testing.T, v []any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
}

// TestBinaryRESTPayload: an application/octet-stream :send carrying one
// record per protocol reaches each client as its record, byte for byte (bin
// stays bin for MessagePack clients); with only the MessagePack record, JSON
// clients get it converted (bin as base64); malformed payloads are 400.
func TestBinaryRESTPayload(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	j := e.connect("chat", "a", false)
	m := e.connectMsgpack("chat", "b")
	send := func(body string) restResp {
		t.Helper()
		return e.restTyped("POST", "/api/hubs/chat/:send", apiV, "application/octet-stream", body, e.restToken("/api/hubs/chat/:send?"+apiV))
	}
	jsonRec := []byte(`{"type":1,"target":"bin","arguments":["AQID"]}` + "\x1e")
	mpRec := framedMsgpack(t, []any{1, map[string]string{}, nil, "bin", []any{[]byte{1, 2, 3}}})
	if r := send(binaryPayload(t, map[string][]byte{"json": jsonRec, "messagepack": mpRec})); r.status != 202 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	if rec := j.nextRaw(5 * time.Second); string(rec)+"\x1e" != string(jsonRec) {
		t.Fatalf("JSON client got %q", rec)
	}
	if got := m.next(5 * time.Second); len(got) != 5 || !bytes.Equal(got[4].([]any)[0].([]byte), []byte{1, 2, 3}) {
		t.Fatalf("MessagePack client got %#v", got)
	}
	// Only the MessagePack record: JSON clients get it converted.
	if r := send(binaryPayload(t, map[string][]byte{"messagepack": mpRec})); r.status != 202 {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	j.expectInvocation("bin", `"AQID"`)
	if got := m.next(5 * time.Second); len(got) != 5 {
		t.Fatalf("MessagePack client got %#v", got)
	}
	for name, body := range map[string]string{
		"not a map":       "\x91\x01",
		"unknown key":     binaryPayload(t, map[string][]byte{"json": jsonRec})[:1] + "\xa3xml\xc4\x00",
		"two records":     binaryPayload(t, map[string][]byte{"json": append(append([]byte{}, jsonRec...), jsonRec...)}),
		"with an id":      binaryPayload(t, map[string][]byte{"json": []byte(`{"type":1,"invocationId":"1","target":"x","arguments":[]}` + "\x1e")}),
		"not invocation":  binaryPayload(t, map[string][]byte{"json": []byte(`{"type":6}` + "\x1e")}),
		"targets differ":  binaryPayload(t, map[string][]byte{"json": jsonRec, "messagepack": framedMsgpack(t, []any{1, map[string]string{}, nil, "other", []any{}})}),
		"unframed record": binaryPayload(t, map[string][]byte{"json": jsonRec[:len(jsonRec)-1]}),
	} {
		if r := send(body); r.status != 400 || r.errorDetail(t).Code != "Error.InvalidRequest" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	j.expectNothing(50 * time.Millisecond)
}
