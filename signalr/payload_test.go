package signalr_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/signalr"
)

// TestBinaryMessageBody: the body is what the .NET SDK's transient mode
// sends: application/octet-stream, a map from protocol name to that
// protocol's framed Invocation, []byte as bin for MessagePack and base64
// for JSON, struct fields named by their json tags.
func TestBinaryMessageBody(t *testing.T) {
	type point struct {
		X int `json:"x"`
	}
	msg, err := signalr.NewBinaryMessage("bin", []byte{1, 2, 3}, point{X: 7}, "é")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ct   string
		body []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.ct = r.Header.Get("Content-Type")
		got.body, _ = readAll(r)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	client, err := signalr.NewClientFromConnectionString("Endpoint="+srv.URL+";AccessKey=k-0123456789;Version=1.0;", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendToAll(context.Background(), "chat", msg, nil); err != nil {
		t.Fatal(err)
	}
	if got.ct != "application/octet-stream" {
		t.Fatalf("content type %q", got.ct)
	}
	var m map[string][]byte
	if err := msgpack.Unmarshal(got.body, &m); err != nil || len(m) != 2 {
		t.Fatalf("body %x: %v", got.body, err)
	}
	if want := `{"type":1,"target":"bin","arguments":["AQID",{"x":7},"é"]}` + "\x1e"; string(m["json"]) != want {
		t.Fatalf("json record %q, want %q", m["json"], want)
	}
	n, k := binary.Uvarint(m["messagepack"])
	if k <= 0 || int(n) != len(m["messagepack"])-k {
		t.Fatalf("messagepack record not framed: %x", m["messagepack"])
	}
	var inv []any
	if err := msgpack.Unmarshal(m["messagepack"][k:], &inv); err != nil || len(inv) != 6 || inv[3] != "bin" {
		t.Fatalf("messagepack invocation %#v: %v", inv, err)
	}
	args := inv[4].([]any)
	if !bytes.Equal(args[0].([]byte), []byte{1, 2, 3}) || args[1].(map[string]any)["x"] != int8(7) || args[2] != "é" {
		t.Fatalf("messagepack arguments %#v", args)
	}
	if _, err := signalr.NewBinaryMessage(" "); err == nil {
		t.Fatal("empty target accepted")
	}
	if _, err := signalr.NewBinaryMessage("t", func() {}); err == nil {
		t.Fatal("a function accepted as an argument")
	}
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

// TestBinaryMessageThroughEmulator: the emulator accepts the binary body
// and a MessagePack client receives the bytes as bin.
func TestBinaryMessageThroughEmulator(t *testing.T) {
	em := emulator.New(emulator.Options{})
	defer em.Close()
	srv := httptest.NewServer(em)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A MessagePack client (negotiate skipped: the token's identity).
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": "http://127.0.0.1/client/?hub=chat", "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte(emulator.DefaultAccessKey))
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/client/?hub=chat&access_token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"messagepack","version":1}`+"\x1e")); err != nil {
		t.Fatal(err)
	}
	if _, hs, err := ws.Read(ctx); err != nil || string(hs) != "{}\x1e" {
		t.Fatalf("handshake %q %v", hs, err)
	}

	client, err := signalr.NewClientFromConnectionString(em.ConnectionString(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := signalr.NewBinaryMessage("bin", []byte("raw"), map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendToAll(ctx, "chat", msg, nil); err != nil {
		t.Fatal(err)
	}
	_, frame, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, k := binary.Uvarint(frame)
	var inv []any
	if err := msgpack.Unmarshal(frame[k:], &inv); err != nil {
		t.Fatal(err)
	}
	args := inv[4].([]any)
	if !bytes.Equal(args[0].([]byte), []byte("raw")) {
		t.Fatalf("arguments %#v", args)
	}
	j, _ := json.Marshal(args[1])
	if string(j) != `{"n":1}` {
		t.Fatalf("map argument %s", j)
	}
}

func ExampleNewBinaryMessage() {
	em := emulator.New(emulator.Options{})
	defer em.Close()
	srv := httptest.NewServer(em)
	defer srv.Close()
	client, err := signalr.NewClientFromConnectionString(em.ConnectionString(srv.URL), nil)
	if err != nil {
		panic(err)
	}
	// MessagePack clients get the bytes as bin (a Uint8Array), JSON
	// clients as base64 text.
	msg, err := signalr.NewBinaryMessage("thumbnail", []byte{0x89, 'P', 'N', 'G'})
	if err != nil {
		panic(err)
	}
	_, err = client.SendToAll(context.Background(), "chat", msg, nil)
	fmt.Println(err)
	// Output: <nil>
}
