package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/signalr"
)

// fakeUpstream records the upstream calls it receives (validated with the
// SDK) and answers with answer(u).
type fakeUpstream struct {
	t      *testing.T
	srv    *httptest.Server
	calls  chan *signalr.UpstreamRequest
	mu     sync.Mutex
	answer func(w http.ResponseWriter, u *signalr.UpstreamRequest)
	header chan http.Header
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	v, err := signalr.NewUpstreamValidator(signalr.UpstreamOptions{AccessKeys: []string{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpstream{t: t, calls: make(chan *signalr.UpstreamRequest, 64), header: make(chan http.Header, 64)}
	f.answer = func(w http.ResponseWriter, u *signalr.UpstreamRequest) { w.WriteHeader(http.StatusNoContent) }
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := v.Parse(r)
		if err != nil {
			t.Errorf("the emulator's upstream call does not validate: %v", err)
			http.Error(w, err.Error(), 400)
			return
		}
		f.header <- r.Header.Clone()
		f.calls <- u
		f.mu.Lock()
		a := f.answer
		f.mu.Unlock()
		a(w, u)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUpstream) setAnswer(a func(w http.ResponseWriter, u *signalr.UpstreamRequest)) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

func (f *fakeUpstream) next(t *testing.T) *signalr.UpstreamRequest {
	t.Helper()
	select {
	case u := <-f.calls:
		<-f.header
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no upstream call within 5s")
	}
	return nil
}

func upstreamEnv(t *testing.T, up string, timeout time.Duration, tmpl ...emulator.UpstreamTemplate) *env {
	t.Helper()
	if len(tmpl) == 0 {
		tmpl = []emulator.UpstreamTemplate{{UrlTemplate: up + "/api/upstream?code=secret"}}
	}
	return newEnv(t, emulator.Options{Upstreams: tmpl, UpstreamTimeout: timeout})
}

func TestUpstreamEventsAndInvocations(t *testing.T) {
	up := newFakeUpstream(t)
	e := upstreamEnv(t, up.srv.URL, 0)
	c := e.connect("chat", "ann", true)

	u := up.next(t)
	if u.Category != "connections" || u.Event != "connected" || u.ConnectionID != c.id || u.Hub != "chat" || u.UserID != "ann" {
		t.Fatalf("connected: %+v", u)
	}
	if u.Query.Has("access_token") || u.Query.Has("id") || u.Query.Get("hub") != "chat" {
		t.Fatalf("client query %v", u.Query)
	}

	// An invocation with an id: the upstream's completion reaches the client byte for byte.
	up.setAnswer(func(w http.ResponseWriter, u *signalr.UpstreamRequest) {
		signalr.WriteUpstreamResult(w, u, map[string]string{"echo": u.Target})
	})
	c.send(`{"type":1,"invocationId":"1","target":"sendMessage","arguments":["hi"]}` + "\x1e")
	u = up.next(t)
	var text string
	if u.Category != "messages" || u.Event != "sendMessage" || u.InvocationID != "1" || u.DecodeArgument(0, &text) != nil || text != "hi" {
		t.Fatalf("invocation: %+v", u)
	}
	if rec := c.nextRaw(5 * time.Second); string(rec) != `{"type":3,"invocationId":"1","result":{"echo":"sendMessage"}}` {
		t.Fatalf("completion %q", rec)
	}

	// 204 → an empty completion; a send without id gets nothing back.
	up.setAnswer(func(w http.ResponseWriter, u *signalr.UpstreamRequest) { w.WriteHeader(http.StatusNoContent) })
	c.send(`{"type":1,"invocationId":"2","target":"m","arguments":[]}` + "\x1e")
	up.next(t)
	if m, ok := c.next(5 * time.Second); !ok || m.Type != 3 || *m.InvocationID != "2" || m.Error != nil {
		t.Fatalf("empty completion: %+v %v", m, ok)
	}
	c.send(`{"type":1,"target":"m","arguments":[1]}` + "\x1e")
	if u := up.next(t); u.InvocationID != "" {
		t.Fatalf("send: %+v", u)
	}

	// Other statuses → "Invocation failed, status code N"; the connection stays open.
	for _, st := range []int{401, 404, 500} {
		up.setAnswer(func(w http.ResponseWriter, u *signalr.UpstreamRequest) { w.WriteHeader(st) })
		c.send(`{"type":1,"invocationId":"3","target":"m","arguments":[]}` + "\x1e")
		up.next(t)
		m, ok := c.next(5 * time.Second)
		if !ok || m.Type != 3 || m.Error == nil || *m.Error != "Invocation failed, status code "+itoa(st) {
			t.Fatalf("status %d: %+v", st, m)
		}
	}
	// An answer that is not a completion is not relayed.
	up.setAnswer(func(w http.ResponseWriter, u *signalr.UpstreamRequest) { w.Write([]byte("<html>")) })
	c.send(`{"type":1,"invocationId":"4","target":"m","arguments":[]}` + "\x1e")
	up.next(t)
	if m, ok := c.next(5 * time.Second); !ok || m.Error == nil || !strings.Contains(*m.Error, "not a completion") {
		t.Fatalf("garbage answer: %+v", m)
	}

	c.ws.CloseNow()
	if u := up.next(t); u.Event != "disconnected" || u.ConnectionID != c.id {
		t.Fatalf("disconnected: %+v", u)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestUpstreamPatternsAndNoUpstream(t *testing.T) {
	up := newFakeUpstream(t)
	e := upstreamEnv(t, up.srv.URL, 0,
		emulator.UpstreamTemplate{UrlTemplate: up.srv.URL + "/{hub}/{category}/{event}", HubPattern: "news, chat", CategoryPattern: "messages", EventPattern: "a,b"},
		emulator.UpstreamTemplate{UrlTemplate: up.srv.URL + "/conn", CategoryPattern: "connections", HubPattern: "other"},
	)
	c := e.connect("chat", "", false)
	// No template for chat's connection events: none sent.
	c.send(`{"type":1,"invocationId":"1","target":"b","arguments":[]}` + "\x1e")
	if u := up.next(t); u.Event != "b" {
		t.Fatalf("first call %+v: the connected event must not be sent", u)
	}
	if m, ok := c.next(5 * time.Second); !ok || m.Type != 3 || m.Error != nil {
		t.Fatalf("%+v", m)
	}
	// No template for event c: the emulator answers that no upstream is configured, and keeps the connection.
	c.send(`{"type":1,"invocationId":"2","target":"c","arguments":[]}` + "\x1e")
	m, ok := c.next(5 * time.Second)
	if !ok || m.Error == nil || !strings.Contains(*m.Error, "no upstream is configured") {
		t.Fatalf("unmatched: %+v", m)
	}
	c.send(`{"type":1,"target":"c","arguments":[]}` + "\x1e") // ignored
	c.send(`{"type":1,"invocationId":"3","target":"a","arguments":[]}` + "\x1e")
	if u := up.next(t); u.Event != "a" {
		t.Fatalf("%+v", u)
	}
}

func TestUpstreamUnreachableAndTimeout(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	e := upstreamEnv(t, deadURL, 0)
	c := e.connect("chat", "", false)
	c.send(`{"type":1,"invocationId":"1","target":"m","arguments":[]}` + "\x1e")
	if m, ok := c.next(5 * time.Second); !ok || m.Error == nil || !strings.Contains(*m.Error, "refused") {
		t.Fatalf("refused: %+v", m)
	}

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("X-ASRS-Category") == "messages" {
			<-release
		}
	}))
	defer hang.Close()
	defer close(release)
	e = upstreamEnv(t, hang.URL, 100*time.Millisecond)
	c = e.connect("chat", "", false)
	c.send(`{"type":1,"invocationId":"1","target":"m","arguments":[]}` + "\x1e")
	if m, ok := c.next(5 * time.Second); !ok || m.Error == nil || !strings.Contains(*m.Error, "did not answer within 100ms") {
		t.Fatalf("timeout: %+v", m)
	}
}

func TestReadUpstreamSettings(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "settings.json")
	// Microsoft's emulator's default settings.json.
	os.WriteFile(p, []byte(`{"UpstreamSettings":{"Templates":[{"UrlTemplate":"http://localhost:7071/runtime/webhooks/signalr","EventPattern":"*","HubPattern":"*","CategoryPattern":"*"}]}}`), 0o644)
	ts, err := emulator.ReadUpstreamSettings(p)
	if err != nil || len(ts) != 1 || ts[0].UrlTemplate != "http://localhost:7071/runtime/webhooks/signalr" || ts[0].HubPattern != "*" {
		t.Fatalf("%+v %v", ts, err)
	}
	os.WriteFile(p, []byte(`{"upstreamSettings":{"templates":[{"urlTemplate":"localhost:7071/x"}]}}`), 0o644)
	if _, err := emulator.ReadUpstreamSettings(p); err == nil || !strings.Contains(err.Error(), "not an absolute http(s) URL") {
		t.Fatalf("bad URL: %v", err)
	}
	os.WriteFile(p, []byte(`{`), 0o644)
	if _, err := emulator.ReadUpstreamSettings(p); err == nil {
		t.Fatal("bad JSON accepted")
	}
}
