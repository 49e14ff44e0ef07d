package serverless_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/serverless-signalr/functions-go/signalr"
	"github.com/serverless-signalr/functions-go/signalr/serverless"
)

const testKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// restRecorder is a fake service REST API that records every call.
type restRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (rr *restRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rr.mu.Lock()
	rr.calls = append(rr.calls, r.Method+" "+r.URL.Path+" "+string(b))
	rr.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (rr *restRecorder) got() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]string(nil), rr.calls...)
}

type fixture struct {
	hub  *serverless.Hub
	rest *restRecorder
}

func newFixture(t *testing.T, timeout time.Duration) *fixture {
	t.Helper()
	rr := &restRecorder{}
	srv := httptest.NewServer(rr)
	t.Cleanup(srv.Close)
	connStr := "Endpoint=" + srv.URL + ";AccessKey=" + testKey + ";Version=1.0;"
	cs, err := signalr.ParseConnectionString(connStr)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := signalr.NewClientFromConnectionString(connStr, &signalr.ClientOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := signalr.NewUpstreamValidator(signalr.UpstreamOptions{Endpoints: []*signalr.ConnectionString{cs}})
	if err != nil {
		t.Fatal(err)
	}
	h := serverless.New("chat", serverless.Options{Validator: v, Clients: []*signalr.Client{cl}, Timeout: timeout, Logger: slog.New(slog.DiscardHandler)})
	return &fixture{hub: h, rest: rr}
}

type call struct {
	category, event, contentType string
	body                         []byte
}

func invokeJSON(target, id string, args string) call {
	idPart := ""
	if id != "" {
		idPart = `"invocationId":"` + id + `",`
	}
	return call{"messages", target, "application/json", []byte(`{"type":1,` + idPart + `"target":"` + target + `","arguments":` + args + `}`)}
}

func (f *fixture) do(t *testing.T, c call) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/upstream", bytes.NewReader(c.body))
	r.Header.Set("Content-Type", c.contentType)
	r.Header.Set("X-ASRS-Connection-Id", "conn1")
	r.Header.Set("X-ASRS-Hub", "Chat")
	r.Header.Set("X-ASRS-Category", c.category)
	r.Header.Set("X-ASRS-Event", c.event)
	r.Header.Set("X-ASRS-User-Id", "ann")
	r.Header.Set("X-ASRS-User-Claims", "role: admin")
	r.Header.Set("X-ASRS-Client-Query", "?room=r1")
	r.Header.Set("X-ASRS-Signature", signalr.UpstreamSignature("conn1", testKey))
	w := httptest.NewRecorder()
	f.hub.ServeHTTP(w, r)
	return w
}

func completion(t *testing.T, w *httptest.ResponseRecorder, proto string) *signalr.Completion {
	t.Helper()
	if w.Code != 200 {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	c, err := signalr.ParseCompletion(proto, w.Body.Bytes())
	if err != nil {
		t.Fatalf("%v: %q", err, w.Body)
	}
	return c
}

type point struct {
	X int    `json:"x"`
	L string `json:"label"`
}

func TestHubMethods(t *testing.T) {
	f := newFixture(t, time.Second)
	var seen *serverless.Context
	f.hub.Method("Add", func(c *serverless.Context, a, b int) (int, error) { seen = c; return a + b, nil })
	f.hub.Method("move", func(c *serverless.Context, p point, by int) point { p.X += by; return p })
	f.hub.Method("fail", func(c *serverless.Context) error { return errors.New("room is full") })
	f.hub.Method("nothing", func(c *serverless.Context) {})
	f.hub.Method("nilptr", func(c *serverless.Context) (*point, error) { return nil, nil })
	f.hub.Method("boom", func(c *serverless.Context) int { panic("secret detail") })

	c := completion(t, f.do(t, invokeJSON("add", "1", `[2,3]`)), "json")
	if c.InvocationID != "1" || string(c.Result) != "5" {
		t.Fatalf("add: %+v", c)
	}
	if seen.ConnectionID != "conn1" || seen.UserID != "ann" || seen.Hub != "Chat" || seen.Claim("role") != "admin" || seen.Query.Get("room") != "r1" {
		t.Fatalf("context %+v", seen)
	}
	if c := completion(t, f.do(t, invokeJSON("move", "2", `[{"x":1,"label":"a"},2]`)), "json"); string(c.Result) != `{"x":3,"label":"a"}` {
		t.Fatalf("move: %s", c.Result)
	}
	if c := completion(t, f.do(t, invokeJSON("fail", "3", `[]`)), "json"); c.Error != "room is full" {
		t.Fatalf("fail: %+v", c)
	}
	if c := completion(t, f.do(t, invokeJSON("nothing", "4", `[]`)), "json"); c.HasResult || c.Error != "" {
		t.Fatalf("void: %+v", c)
	}
	if c := completion(t, f.do(t, invokeJSON("nilptr", "5", `[]`)), "json"); c.HasResult || c.Error != "" {
		t.Fatalf("nil pointer result must be void: %+v", c)
	}
	c = completion(t, f.do(t, invokeJSON("boom", "6", `[]`)), "json")
	if !strings.Contains(c.Error, `"boom"`) || strings.Contains(c.Error, "secret") {
		t.Fatalf("panic: %+v", c)
	}
	for _, bad := range []struct {
		call call
		want string
	}{
		{invokeJSON("nosuch", "7", `[]`), `Method "nosuch" does not exist on hub "chat".`},
		{invokeJSON("add", "8", `[1]`), `takes 2 arguments, the invocation has 1`},
		{invokeJSON("add", "9", `["x",1]`), `Argument 1 of "Add" cannot be read as int: got a JSON string`},
	} {
		if c := completion(t, f.do(t, bad.call), "json"); !strings.Contains(c.Error, bad.want) {
			t.Errorf("%s: %q, want %q", bad.call.body, c.Error, bad.want)
		}
	}
	// A send without invocation id is answered 204, even when it fails.
	if w := f.do(t, invokeJSON("nosuch", "", `[]`)); w.Code != http.StatusNoContent {
		t.Fatalf("send: %d", w.Code)
	}
}

func TestHubMessagePack(t *testing.T) {
	f := newFixture(t, time.Second)
	f.hub.Method("move", func(c *serverless.Context, p point, by int) point { p.X += by; return p })
	body, err := msgpack.Marshal([]any{1, map[string]string{}, "1", "move", []any{map[string]any{"x": 1, "label": "é"}, 2}})
	if err != nil {
		t.Fatal(err)
	}
	c := completion(t, f.do(t, call{"messages", "move", "application/x-msgpack", body}), "messagepack")
	var got map[string]any
	if err := msgpack.Unmarshal(c.Result, &got); err != nil || got["label"] != "é" || got["x"] != int8(3) {
		t.Fatalf("%#v %v", got, err)
	}
}

func TestHubEventsAndClients(t *testing.T) {
	f := newFixture(t, time.Second)
	f.hub.OnConnected(func(c *serverless.Context) error {
		return c.Clients.All(c, "presence", map[string]string{"connectionId": c.ConnectionID})
	})
	var reason string
	f.hub.OnDisconnected(func(c *serverless.Context) error { reason = c.Error; return errors.New("db down") })
	f.hub.Method("join", func(c *serverless.Context, g string) error {
		return errors.Join(c.JoinGroup(g), c.Clients.Group(c, g, "joined", c.ConnectionID), c.Caller("welcome"), c.Others("hello"), c.LeaveGroup(g),
			c.Clients.CloseConnection(c, "x", "bye"))
	})
	if w := f.do(t, call{"connections", "connected", "application/json", []byte(`{"type":10}`)}); w.Code != 204 {
		t.Fatalf("connected: %d %s", w.Code, w.Body)
	}
	w := f.do(t, call{"connections", "disconnected", "application/json", []byte(`{"type":11,"error":"gone"}`)})
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"code":"`+signalr.UpstreamHandlerFailed.String()+`"`) || reason != "gone" {
		t.Fatalf("disconnected: %d %s %q", w.Code, w.Body, reason)
	}
	if c := completion(t, f.do(t, invokeJSON("join", "1", `["room 1"]`)), "json"); c.Error != "" {
		t.Fatalf("join: %s", c.Error)
	}
	want := []string{
		`POST /api/hubs/chat/:send {"target":"presence","arguments":[{"connectionId":"conn1"}]}`,
		`PUT /api/hubs/chat/groups/room 1/connections/conn1 `,
		`POST /api/hubs/chat/groups/room 1/:send {"target":"joined","arguments":["conn1"]}`,
		`POST /api/hubs/chat/connections/conn1/:send {"target":"welcome","arguments":[]}`,
		`POST /api/hubs/chat/:send {"target":"hello","arguments":[]}`,
		`DELETE /api/hubs/chat/groups/room 1/connections/conn1 `,
		`DELETE /api/hubs/chat/connections/x `,
	}
	got := f.rest.got()
	if len(got) != len(want) {
		t.Fatalf("REST calls:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.EqualFold(got[i], want[i]) {
			t.Errorf("call %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestHubTimeoutAndRefusals(t *testing.T) {
	f := newFixture(t, 50*time.Millisecond)
	release := make(chan struct{})
	defer close(release)
	f.hub.Method("slow", func(c *serverless.Context) int { <-release; return 1 })
	c := completion(t, f.do(t, invokeJSON("slow", "1", `[]`)), "json")
	if !strings.Contains(c.Error, `"slow" did not finish within 50ms`) {
		t.Fatalf("timeout: %+v", c)
	}
	other := f.hub.Dispatch(context.Background(), &signalr.UpstreamRequest{Hub: "news", Category: "messages", Target: "x"})
	if other.Refused == nil || other.Refused.Kind.HTTPStatus() != 404 || other.Refused.Kind != signalr.UpstreamUnknownHub {
		t.Fatalf("other hub: %+v", other)
	}
	r := httptest.NewRequest(http.MethodPost, "/api/upstream", strings.NewReader(`{}`))
	w := httptest.NewRecorder()
	f.hub.ServeHTTP(w, r)
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"code":"`+signalr.UpstreamMissingHeader.String()+`"`) {
		t.Fatalf("unsigned garbage: %d %s", w.Code, w.Body)
	}
}

func TestMethodRegistrationPanics(t *testing.T) {
	h := serverless.New("chat", serverless.Options{})
	h.Method("ok", func(*serverless.Context) {})
	for name, fn := range map[string]any{
		"ok":        func(*serverless.Context) {},
		"noctx":     func(int) {},
		"notfunc":   42,
		"variadic":  func(*serverless.Context, ...int) {},
		"twoerrs":   func(*serverless.Context) (int, int) { return 0, 0 },
		"threeouts": func(*serverless.Context) (int, int, error) { return 0, 0, nil },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			h.Method(name, fn)
		}()
	}
}
