package signalr_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

const (
	upKey1 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
	upKey2 = "secondary-key-0123456789abcdefghijklmnopqrstu"
)

func upValidator(t *testing.T, opts signalr.UpstreamOptions) *signalr.UpstreamValidator {
	t.Helper()
	v, err := signalr.NewUpstreamValidator(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func keyed(t *testing.T) *signalr.UpstreamValidator {
	t.Helper()
	cs1, err := signalr.ParseConnectionString("Endpoint=http://localhost;Port=8888;AccessKey=" + upKey1 + ";Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}
	cs2, err := signalr.ParseConnectionString("Endpoint=https://b.service.signalr.net;AccessKey=" + upKey2 + ";Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}
	return upValidator(t, signalr.UpstreamOptions{Endpoints: []*signalr.ConnectionString{cs1, cs2}})
}

// upReq builds a signed upstream request for connection "c1".
func upReq(category, event, contentType string, body []byte, edit func(http.Header)) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/upstream", bytes.NewReader(body))
	h := r.Header
	h.Set("X-ASRS-Connection-Id", "c1")
	h.Set("X-ASRS-Hub", "chat")
	h.Set("X-ASRS-Category", category)
	h.Set("X-ASRS-Event", event)
	h.Set("X-ASRS-User-Id", "ann")
	h.Set("X-ASRS-User-Claims", "name: Ann, role: admin, role: dev")
	h.Set("X-ASRS-Client-Query", "?room=1&access_token=secret")
	h.Set("X-ASRS-Signature", signalr.UpstreamSignature("c1", upKey1))
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if edit != nil {
		edit(h)
	}
	return r
}

func wantUpstreamErr(t *testing.T, err error, status int, kind signalr.UpstreamErrorKind) {
	t.Helper()
	var ue *signalr.UpstreamError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UpstreamError %s", err, kind)
	}
	if ue.Kind.HTTPStatus() != status || ue.Kind != kind {
		t.Fatalf("got %d %s (%s), want %d %s", ue.Kind.HTTPStatus(), ue.Kind, ue.Message, status, kind)
	}
	if strings.Contains(ue.Message, upKey1) || strings.Contains(ue.Message, upKey2) {
		t.Fatalf("message leaks a key: %s", ue.Message)
	}
}

func TestUpstreamSignature(t *testing.T) {
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231-style known answer.
	got := signalr.UpstreamSignature("The quick brown fox jumps over the lazy dog", "key")
	if want := "sha256=F7BC83F430538424B13298E6AA6FB143EF4D59A14946175997479DBC2D1A3CD8"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	two := signalr.UpstreamSignature("c1", upKey1, "", upKey2)
	if parts := strings.Split(two, ","); len(parts) != 2 || parts[0] != signalr.UpstreamSignature("c1", upKey1) {
		t.Fatalf("two keys: %s", two)
	}
}

func TestParseUpstreamConnected(t *testing.T) {
	u, err := keyed(t).Parse(upReq("connections", "connected", "application/json", []byte(`{"type":10}`), nil))
	if err != nil {
		t.Fatal(err)
	}
	if u.ConnectionID != "c1" || u.Hub != "chat" || u.Category != "connections" || u.Event != "connected" || u.UserID != "ann" || u.Endpoint != 0 {
		t.Fatalf("%+v", u)
	}
	want := []signalr.Claim{{Type: "name", Value: "Ann"}, {Type: "role", Value: "admin"}, {Type: "role", Value: "dev"}}
	if len(u.Claims) != 3 || u.Claims[0] != want[0] || u.Claims[2] != want[2] {
		t.Fatalf("claims %+v", u.Claims)
	}
	if u.Query.Get("room") != "1" || u.Query.Has("access_token") {
		t.Fatalf("query %v: the client's token must be dropped", u.Query)
	}
	rec := httptest.NewRecorder()
	if err := signalr.WriteUpstreamResult(rec, u, "ignored"); err != nil || rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("connected answer %d %q %v", rec.Code, rec.Body, err)
	}
}

func TestParseUpstreamDisconnectedPascalCase(t *testing.T) {
	// Microsoft's emulator writes Type/Error.
	u, err := keyed(t).Parse(upReq("connections", "disconnected", "application/json; charset=utf-8", []byte(`{"Type":11,"Error":"socket closed"}`), nil))
	if err != nil {
		t.Fatal(err)
	}
	if u.Error != "socket closed" {
		t.Fatalf("error %q", u.Error)
	}
}

func TestParseUpstreamJSONInvocation(t *testing.T) {
	body := []byte(`{"type":1,"invocationId":"7","target":"sendMessage","arguments":["hi",{"n":1}]}`)
	u, err := keyed(t).Parse(upReq("messages", "sendMessage", "application/json", body, nil))
	if err != nil {
		t.Fatal(err)
	}
	if u.Protocol != signalr.ProtocolJSON || u.InvocationID != "7" || u.Target != "sendMessage" || len(u.RawArguments) != 2 {
		t.Fatalf("%+v", u)
	}
	var s string
	var o struct{ N int }
	if err := u.DecodeArgument(0, &s); err != nil || s != "hi" {
		t.Fatalf("arg0 %q %v", s, err)
	}
	if err := u.DecodeArgument(1, &o); err != nil || o.N != 1 {
		t.Fatalf("arg1 %+v %v", o, err)
	}
	if err := u.DecodeArgument(2, &s); err == nil {
		t.Fatal("argument out of range decoded")
	}
}

type chatMsg struct {
	From string `json:"from"`
	Text string `json:"text"`
	N    int64  `json:"n"`
}

func packInvocation(t *testing.T, id any, target string, args ...any) []byte {
	t.Helper()
	b, err := msgpack.Marshal([]any{1, map[string]string{}, id, target, args})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseUpstreamMessagePackInvocation(t *testing.T) {
	body := packInvocation(t, "3", "sendMessage", "hé", map[string]any{"from": "ann", "text": "x", "n": 1 << 40})
	u, err := keyed(t).Parse(upReq("messages", "sendMessage", "application/x-msgpack", body, nil))
	if err != nil {
		t.Fatal(err)
	}
	if u.Protocol != signalr.ProtocolMessagePack || u.InvocationID != "3" || len(u.RawArguments) != 2 {
		t.Fatalf("%+v", u)
	}
	var s string
	var m chatMsg
	if err := u.DecodeArgument(0, &s); err != nil || s != "hé" {
		t.Fatalf("arg0 %q %v", s, err)
	}
	if err := u.DecodeArgument(1, &m); err != nil || m != (chatMsg{"ann", "x", 1 << 40}) {
		t.Fatalf("arg1 %+v %v: json tags must map MessagePack keys", m, err)
	}

	// Without invocation id (nil): a send, answered 204.
	u, err = keyed(t).Parse(upReq("messages", "sendMessage", "application/x-msgpack", packInvocation(t, nil, "sendMessage"), nil))
	if err != nil || u.InvocationID != "" {
		t.Fatalf("%+v %v", u, err)
	}
	rec := httptest.NewRecorder()
	signalr.WriteUpstreamResult(rec, u, 1)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("send answered %d", rec.Code)
	}
}

func TestParseUpstreamRefusals(t *testing.T) {
	inv := []byte(`{"type":1,"invocationId":"1","target":"m","arguments":[]}`)
	cases := []struct {
		name     string
		category string
		event    string
		ct       string
		body     []byte
		edit     func(http.Header)
		status   int
		kind     signalr.UpstreamErrorKind
	}{
		{"no connection id", "messages", "m", "application/json", inv, func(h http.Header) { h.Del("X-ASRS-Connection-Id") }, 400, signalr.UpstreamMissingHeader},
		{"no hub", "messages", "m", "application/json", inv, func(h http.Header) { h.Del("X-ASRS-Hub") }, 400, signalr.UpstreamMissingHeader},
		{"bad category", "other", "m", "application/json", inv, nil, 400, signalr.UpstreamMissingHeader},
		{"bad connection event", "connections", "opened", "application/json", nil, nil, 400, signalr.UpstreamMissingHeader},
		{"signature missing", "messages", "m", "application/json", inv, func(h http.Header) { h.Del("X-ASRS-Signature") }, 401, signalr.UpstreamSignatureMissing},
		{"wrong key", "messages", "m", "application/json", inv, func(h http.Header) { h.Set("X-ASRS-Signature", signalr.UpstreamSignature("c1", "some-other-key")) }, 401, signalr.UpstreamSignatureMismatch},
		{"other connection's signature", "messages", "m", "application/json", inv, func(h http.Header) { h.Set("X-ASRS-Signature", signalr.UpstreamSignature("c2", upKey1)) }, 401, signalr.UpstreamSignatureMismatch},
		{"malformed list", "messages", "m", "application/json", inv, func(h http.Header) { h.Set("X-ASRS-Signature", "sha256=zz,md5=00, ,sha256=") }, 401, signalr.UpstreamSignatureMalformed},
		{"short hex", "messages", "m", "application/json", inv, func(h http.Header) { h.Set("X-ASRS-Signature", signalr.UpstreamSignature("c1", upKey1)[:70]) }, 401, signalr.UpstreamSignatureMalformed},
		{"no prefix", "messages", "m", "application/json", inv, func(h http.Header) {
			h.Set("X-ASRS-Signature", strings.TrimPrefix(signalr.UpstreamSignature("c1", upKey1), "sha256="))
		}, 401, signalr.UpstreamSignatureMalformed},
		{"text/plain", "messages", "m", "text/plain", inv, nil, 415, signalr.UpstreamUnsupportedMediaType},
		{"no content type", "messages", "m", "", inv, nil, 415, signalr.UpstreamUnsupportedMediaType},
		{"not json", "messages", "m", "application/json", []byte(`{"type":`), nil, 400, signalr.UpstreamInvalidBody},
		{"completion instead of invocation", "messages", "m", "application/json", []byte(`{"type":3,"invocationId":"1"}`), nil, 400, signalr.UpstreamInvalidBody},
		{"framed json", "messages", "m", "application/json", append(append([]byte{}, inv...), 0x1e), nil, 400, signalr.UpstreamInvalidBody},
		{"target differs from event", "messages", "other", "application/json", inv, nil, 400, signalr.UpstreamInvalidBody},
		{"arguments not an array", "messages", "m", "application/json", []byte(`{"type":1,"target":"m","arguments":{}}`), nil, 400, signalr.UpstreamInvalidBody},
		{"msgpack garbage", "messages", "m", "application/x-msgpack", []byte{0x95, 0x01}, nil, 400, signalr.UpstreamInvalidBody},
		{"msgpack framed", "messages", "m", "application/x-msgpack", append([]byte{0x10}, 0x95, 1, 0x80, 0xc0, 0xa1, 'm', 0x90), nil, 400, signalr.UpstreamInvalidBody},
		{"connected with wrong type", "connections", "connected", "application/json", []byte(`{"type":11}`), nil, 400, signalr.UpstreamInvalidBody},
		{"too large", "messages", "m", "application/json", bytes.Repeat([]byte(" "), signalr.DefaultUpstreamMaxBody+1), nil, 413, signalr.UpstreamBodyTooLarge},
	}
	v := keyed(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Parse(upReq(c.category, c.event, c.ct, c.body, c.edit))
			wantUpstreamErr(t, err, c.status, c.kind)
		})
	}
}

// TestUpstreamMessagePackHeadersAreBoundedByTheBody: an invocation whose
// headers map declares a million entries in a few bytes is refused as an
// invalid body without making room for them (msgpack's own map decoding
// would allocate tens of megabytes first).
func TestUpstreamMessagePackHeadersAreBoundedByTheBody(t *testing.T) {
	body := []byte{0x95, 0x01, 0xdf, 0x00, 0x0f, 0x42, 0x40, 0xa1, 'k', 0xa1, 'v', 0xc0, 0xa1, 'm', 0x90}
	v := keyed(t)
	var err error
	d := testutil.AllocatedBytes(func() { _, err = v.Parse(upReq("messages", "m", "application/x-msgpack", body, nil)) })
	wantUpstreamErr(t, err, 400, signalr.UpstreamInvalidBody)
	if d > 1<<20 {
		t.Fatalf("refusing a 15-byte body allocated %d bytes", d)
	}
	// The same invocation with the map's true size parses.
	body[2], body = 0x81, append(body[:3], body[7:]...)
	u, err := v.Parse(upReq("messages", "m", "application/x-msgpack", body, nil))
	if err != nil || u.Headers["k"] != "v" || u.Target != "m" {
		t.Fatalf("%+v %v", u, err)
	}
}

// TestMessagePackDeclaredLengthsCostNothing: records that declare a str
// or bin of 3.7 GB in 14 bytes, sent again and again, are refused without
// allocating for what they declare. The msgpack library's pooled decoder
// kept the buffer it grew for each failed read, so ParseCompletion once
// reached 4.5 GB of heap after 35 such records (FuzzParseCompletion).
func TestMessagePackDeclaredLengthsCostNothing(t *testing.T) {
	completion := []byte("\r\x95\x03*\xdb\xdb\xdb\xc3\xdb00000")
	invocation := []byte{0x95, 0x01, 0x80, 0xc0, 0xa1, 'm', 0x91, 0xc6, 0xdb, 0xdb, 0xdb, 0xc3, 0xc0}
	v := keyed(t)
	arg := &signalr.UpstreamRequest{Protocol: signalr.ProtocolMessagePack, RawArguments: [][]byte{{0xdb, 0xdb, 0xdb, 0xdb, 0xc3, 'x'}}}
	d := testutil.AllocatedBytes(func() {
		for range 20 {
			if _, err := signalr.ParseCompletion(signalr.ProtocolMessagePack, completion); err == nil {
				t.Fatal("completion accepted")
			}
			_, err := v.Parse(upReq("messages", "m", "application/x-msgpack", invocation, nil))
			wantUpstreamErr(t, err, 400, signalr.UpstreamInvalidBody)
			var x any
			if err := arg.DecodeArgument(0, &x); err == nil {
				t.Fatal("argument decoded")
			}
		}
	})
	if d > 1<<20 {
		t.Fatalf("refusing 60 records of 14 bytes allocated %d bytes", d)
	}
}

func TestUpstreamSignatureAccepted(t *testing.T) {
	body := []byte(`{"type":10}`)
	cases := []struct {
		name string
		sig  string
		ep   int
	}{
		{"primary", signalr.UpstreamSignature("c1", upKey1), 0},
		{"second endpoint", signalr.UpstreamSignature("c1", upKey2), 1},
		{"lower-case hex", strings.ToLower(signalr.UpstreamSignature("c1", upKey2)), 1},
		{"rotation: unknown key first", signalr.UpstreamSignature("c1", "old-key", upKey2), 1},
		{"junk entries around a match", "md5=1, sha256=00," + signalr.UpstreamSignature("c1", upKey1) + " ,x", 0},
	}
	v := keyed(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := v.Parse(upReq("connections", "connected", "application/json", body, func(h http.Header) { h.Set("X-ASRS-Signature", c.sig) }))
			if err != nil {
				t.Fatal(err)
			}
			if u.Endpoint != c.ep {
				t.Fatalf("endpoint %d, want %d", u.Endpoint, c.ep)
			}
		})
	}
}

func TestUpstreamEntraEndpoints(t *testing.T) {
	body := []byte(`{"type":10}`)
	unsigned := func(h http.Header) { h.Del("X-ASRS-Signature") }
	withToken := func(tok string) func(http.Header) {
		return func(h http.Header) { h.Del("X-ASRS-Signature"); h.Set("Authorization", "Bearer "+tok) }
	}
	cs, err := signalr.ParseConnectionString("Endpoint=https://e.service.signalr.net;AuthType=azure.msi;Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signalr.NewUpstreamValidator(signalr.UpstreamOptions{Endpoints: []*signalr.ConnectionString{cs}}); err == nil {
		t.Fatal("a validator that can accept nothing was built")
	}
	verify := func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer good" {
			return errors.New("signature invalid")
		}
		return nil
	}
	v := upValidator(t, signalr.UpstreamOptions{Endpoints: []*signalr.ConnectionString{cs}, VerifyToken: verify})
	if _, err := v.Parse(upReq("connections", "connected", "application/json", body, withToken("good"))); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	_, err = v.Parse(upReq("connections", "connected", "application/json", body, withToken("bad")))
	wantUpstreamErr(t, err, 401, signalr.UpstreamTokenInvalid)
	_, err = v.Parse(upReq("connections", "connected", "application/json", body, unsigned))
	wantUpstreamErr(t, err, 401, signalr.UpstreamUnauthenticated)

	dev := upValidator(t, signalr.UpstreamOptions{Endpoints: []*signalr.ConnectionString{cs}, AllowUnsigned: true})
	if u, err := dev.Parse(upReq("connections", "connected", "application/json", body, unsigned)); err != nil || u.Endpoint != -1 {
		t.Fatalf("unsigned refused although allowed: %v", err)
	}
	kd := upValidator(t, signalr.UpstreamOptions{AccessKeys: []string{upKey1}, AllowUnsigned: true})
	_, err = kd.Parse(upReq("connections", "connected", "application/json", body, func(h http.Header) { h.Set("X-ASRS-Signature", signalr.UpstreamSignature("c1", "x")) }))
	wantUpstreamErr(t, err, 401, signalr.UpstreamSignatureMismatch)
}

func TestUpstreamCompletionJSON(t *testing.T) {
	u := &signalr.UpstreamRequest{Category: "messages", Protocol: signalr.ProtocolJSON, InvocationID: "9\"x"}
	cases := []struct {
		name, errMsg string
		result       any
		want         string
	}{
		{"result", "", map[string]string{"from": "ann"}, `{"type":3,"invocationId":"9\"x","result":{"from":"ann"}}` + "\x1e"},
		{"void", "", nil, `{"type":3,"invocationId":"9\"x"}` + "\x1e"},
		{"error", "unknown method \"x\"", nil, `{"type":3,"invocationId":"9\"x","error":"unknown method \"x\""}` + "\x1e"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := u.AppendCompletion(nil, c.result, c.errMsg)
			if err != nil || string(b) != c.want {
				t.Fatalf("got %q %v\nwant %q", b, err, c.want)
			}
			p, err := signalr.ParseCompletion(signalr.ProtocolJSON, b)
			if err != nil || p.InvocationID != u.InvocationID || p.Error != c.errMsg || p.HasResult != (c.result != nil) {
				t.Fatalf("round trip %+v %v", p, err)
			}
		})
	}
	if _, err := u.AppendCompletion(nil, func() {}, ""); err == nil {
		t.Fatal("an unencodable result encoded")
	}
	rec := httptest.NewRecorder()
	if err := signalr.WriteUpstreamResult(rec, u, make(chan int)); err == nil {
		t.Fatal("no error for an unencodable result")
	}
	if p, err := signalr.ParseCompletion(signalr.ProtocolJSON, rec.Body.Bytes()); rec.Code != 200 || err != nil || p.Error == "" {
		t.Fatalf("unencodable result must give an error completion: %d %q", rec.Code, rec.Body)
	}
}

func TestUpstreamCompletionMessagePack(t *testing.T) {
	u := &signalr.UpstreamRequest{Category: "messages", Protocol: signalr.ProtocolMessagePack, InvocationID: "1"}
	for _, c := range []struct {
		name   string
		result any
		errMsg string
		kind   int
	}{{"result", chatMsg{From: "ann", Text: "hé", N: 1 << 53}, "", 3}, {"void", nil, "", 2}, {"error", nil, "boom", 1}} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if c.errMsg != "" {
				signalr.WriteUpstreamError(rec, u, c.errMsg)
			} else if err := signalr.WriteUpstreamResult(rec, u, c.result); err != nil {
				t.Fatal(err)
			}
			b := rec.Body.Bytes()
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-msgpack" {
				t.Fatalf("%d %s", rec.Code, rec.Header())
			}
			n, k := binary.Uvarint(b)
			if int(n) != len(b)-k {
				t.Fatalf("length prefix %d, %d bytes follow", n, len(b)-k)
			}
			var arr []any
			if err := msgpack.Unmarshal(b[k:], &arr); err != nil {
				t.Fatal(err)
			}
			if arr[0] != int8(3) || arr[2] != "1" || arr[3] != int8(c.kind) {
				t.Fatalf("%#v", arr)
			}
			p, err := signalr.ParseCompletion(signalr.ProtocolMessagePack, b)
			if err != nil || p.Error != c.errMsg || p.HasResult != (c.kind == 3) {
				t.Fatalf("%+v %v", p, err)
			}
			if c.kind == 3 {
				var got chatMsg
				if err := (&signalr.UpstreamRequest{Protocol: signalr.ProtocolMessagePack, RawArguments: [][]byte{p.Result}}).DecodeArgument(0, &got); err != nil || got != c.result {
					t.Fatalf("result %+v %v", got, err)
				}
			}
		})
	}
}

func TestParseCompletionRefusals(t *testing.T) {
	for _, c := range []struct{ proto, rec string }{
		{"json", `{"type":3,"invocationId":"1"}`},
		{"json", `{"type":1,"invocationId":"1"}` + "\x1e"},
		{"json", `{"type":3,"invocationId":"1","error":""}` + "\x1e"},
		{"json", `{"type":3}` + "\x1e" + `{"type":3}` + "\x1e"},
		{"json", "<html>" + "\x1e"},
		{"messagepack", "\x05\x94\x03\x80\xa11"},
		{"messagepack", ""},
	} {
		if _, err := signalr.ParseCompletion(c.proto, []byte(c.rec)); err == nil {
			t.Errorf("%s %q parsed", c.proto, c.rec)
		}
	}
}

// BenchmarkParseUpstream is the SDK's share of an upstream invocation:
// parse, signature check and the completion.
func BenchmarkParseUpstream(b *testing.B) {
	cs, _ := signalr.ParseConnectionString("Endpoint=http://localhost;Port=8888;AccessKey=" + upKey1 + ";Version=1.0;")
	v, _ := signalr.NewUpstreamValidator(signalr.UpstreamOptions{Endpoints: []*signalr.ConnectionString{cs}})
	body := []byte(`{"type":1,"invocationId":"7","target":"sendMessage","arguments":["hello"]}`)
	r := upReq("messages", "sendMessage", "application/json", body, nil)
	rd := bytes.NewReader(body)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		r.Body = io.NopCloser(rd)
		r.ContentLength = int64(len(body))
		u, err := v.Parse(r)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = u.AppendCompletion(buf[:0], nil, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUpstreamErrorKind(t *testing.T) {
	seen := map[string]bool{}
	for k := signalr.UpstreamMissingHeader; k <= signalr.UpstreamNotConfigured; k++ {
		s := k.String()
		if s == "" || seen[s] || strings.Contains(s, ".") || strings.HasPrefix(s, "UpstreamErrorKind(") {
			t.Errorf("kind %d: String %q (empty, repeated, dotted or unnamed)", int(k), s)
		}
		seen[s] = true
		if st := k.HTTPStatus(); st < 400 || st > 599 {
			t.Errorf("%s: HTTPStatus %d", k, st)
		}
	}
	if got := signalr.UpstreamErrorKind(99).String(); got != "UpstreamErrorKind(99)" {
		t.Errorf("unknown kind: %q", got)
	}
	if got := signalr.UpstreamErrorKind(0).HTTPStatus(); got != 500 {
		t.Errorf("zero kind: status %d", got)
	}
}
