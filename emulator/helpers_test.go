package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/internal/testutil"
)

const testKey = "test-access-key-0123456789-abcdefghijklmnop"

// env is one emulator served over loopback HTTP.
type env struct {
	t   *testing.T
	em  *emulator.Emulator
	srv *httptest.Server
	// aud base: scheme://host without port, as the SDK builds it.
	audBase string
	// clock is the emulator's clock (token expiry, TTL).
	clock *testutil.Clock
	// log receives every record of the emulator's logger as JSON, at
	// debug: tests wait for the events it logs (a connection's end).
	log *testutil.SyncBuffer
}

func newEnv(t *testing.T, opts emulator.Options) *env {
	t.Helper()
	if opts.AccessKey == "" {
		opts.AccessKey = testKey
	}
	log := &testutil.SyncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewMultiHandler(
			slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}),
			slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	clock := testutil.NewClock(time.Now().Truncate(time.Second))
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	em := emulator.New(opts)
	srv := httptest.NewServer(em)
	t.Cleanup(func() {
		_ = em.Close()
		srv.Close()
	})
	u, _ := url.Parse(srv.URL)
	return &env{t: t, em: em, srv: srv, audBase: "http://" + u.Hostname(), clock: clock, log: log}
}

func sign(t *testing.T, key string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clientToken is what a backend's negotiate returns for hub and user.
func (e *env) clientToken(hub, user string) string {
	e.t.Helper()
	c := jwt.MapClaims{
		"aud": e.audBase + "/client/?hub=" + strings.ToLower(hub),
		"exp": e.clock.Now().Add(time.Hour).Unix(),
		"iat": e.clock.Now().Unix(),
	}
	if user != "" {
		c["asrs.s.uid"] = user
	}
	return sign(e.t, testKey, c)
}

// restToken is a server token for the REST path+query the SDK signs.
func (e *env) restToken(pathAndQuery string) string {
	e.t.Helper()
	return sign(e.t, testKey, jwt.MapClaims{
		"aud":    e.audBase + pathAndQuery,
		"exp":    e.clock.Now().Add(time.Hour).Unix(),
		"nameid": "server_1",
	})
}

type negotiateResp struct {
	NegotiateVersion     int    `json:"negotiateVersion"`
	ConnectionID         string `json:"connectionId"`
	ConnectionToken      string `json:"connectionToken"`
	URL                  *string
	AccessToken          *string
	UseStatefulReconnect *bool
	AvailableTransports  []struct {
		Transport       string   `json:"transport"`
		TransferFormats []string `json:"transferFormats"`
	} `json:"availableTransports"`
}

func (e *env) negotiate(hub, token string) negotiateResp {
	e.t.Helper()
	return e.negotiateWith(hub, token, "negotiateVersion=1")
}

// negotiateWith negotiates with extra query parameters.
func (e *env) negotiateWith(hub, token, query string) negotiateResp {
	e.t.Helper()
	r := e.negotiateQuery(hub, "Bearer "+token, query)
	status, body := r.status, r.body
	if status != http.StatusOK {
		e.t.Fatalf("negotiate: status %d body %s", status, body)
	}
	var n negotiateResp
	if err := json.Unmarshal(body, &n); err != nil {
		e.t.Fatalf("negotiate body %s: %v", body, err)
	}
	return n
}

// negotiateQuery POSTs negotiate with an Authorization header (none when
// empty) and extra query parameters.
func (e *env) negotiateQuery(hub, auth, query string) restResp {
	e.t.Helper()
	u := e.srv.URL + "/client/negotiate?hub=" + hub
	if query != "" {
		u += "&" + query
	}
	req, _ := http.NewRequest(http.MethodPost, u, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return restResp{status: resp.StatusCode, header: resp.Header, body: body}
}

// client is a minimal JSON hub protocol client.
type client struct {
	t       *testing.T
	ws      *websocket.Conn
	id      string
	pending [][]byte
	frames  chan []byte
	// pings counts server pings seen by next.
	pings int
}

// connect negotiates and opens the WebSocket, with the token in the
// Authorization header (Node) or the access_token query (browser).
func (e *env) connect(hub, user string, viaQuery bool) *client {
	e.t.Helper()
	tok := e.clientToken(hub, user)
	n := e.negotiate(hub, tok)
	c := e.dial(hub, n.ConnectionToken, tok, viaQuery)
	c.id = n.ConnectionID
	c.handshake()
	return c
}

func (e *env) dial(hub, connToken, tok string, viaQuery bool) *client {
	e.t.Helper()
	ws, resp, err := e.tryDial(hub, connToken, tok, viaQuery)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial: %v (status %d)", err, status)
	}
	c := &client{t: e.t, ws: ws, frames: make(chan []byte, 1<<16)}
	go func() {
		defer close(c.frames)
		for {
			// No deadline: an expired Read context would close the socket.
			typ, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			if typ != websocket.MessageText {
				data = nil // reported by nextRaw
			}
			c.frames <- data
		}
	}()
	e.t.Cleanup(func() { ws.CloseNow() })
	return c
}

func (e *env) tryDial(hub, connToken, tok string, viaQuery bool) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/client/?hub=" + hub + "&id=" + url.QueryEscape(connToken)
	opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
	if viaQuery {
		u += "&access_token=" + url.QueryEscape(tok)
	} else if tok != "" {
		opts.HTTPHeader.Set("Authorization", "Bearer "+tok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, u, opts)
	if ws != nil {
		ws.SetReadLimit(4 << 20)
	}
	return ws, resp, err
}

func (c *client) handshake() {
	c.t.Helper()
	c.send(`{"protocol":"json","version":1}` + "\x1e")
	rec := c.nextRaw(5 * time.Second)
	if string(rec) != "{}" {
		c.t.Fatalf("handshake response %q, want {}", rec)
	}
}

func (c *client) send(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// nextRaw returns the next record, or nil after timeout / close.
func (c *client) nextRaw(timeout time.Duration) []byte {
	c.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(c.pending) == 0 {
		var data []byte
		select {
		case d, ok := <-c.frames:
			if !ok {
				return nil
			}
			data = d
		case <-timer.C:
			return nil
		}
		if data == nil {
			c.t.Fatalf("got a binary frame")
		}
		if len(data) == 0 || data[len(data)-1] != 0x1e {
			c.t.Fatalf("frame %q does not end with a record separator", data)
		}
		c.pending = append(c.pending, bytes.Split(data[:len(data)-1], []byte{0x1e})...)
	}
	r := c.pending[0]
	c.pending = c.pending[1:]
	return r
}

// message is a decoded hub message.
type message struct {
	Type         int               `json:"type"`
	Target       string            `json:"target"`
	Arguments    []json.RawMessage `json:"arguments"`
	InvocationID *string           `json:"invocationId"`
	Error        *string           `json:"error"`
	// AllowReconnect is set in a Close the client may reconnect after.
	AllowReconnect bool `json:"allowReconnect"`
}

// next returns the next non-ping message; ok=false after timeout or close.
func (c *client) next(timeout time.Duration) (message, bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return message{}, false
		}
		rec := c.nextRaw(left)
		if rec == nil {
			return message{}, false
		}
		var m message
		if err := json.Unmarshal(rec, &m); err != nil {
			c.t.Fatalf("record %q: %v", rec, err)
		}
		if m.Type == 6 {
			c.pings++
			continue
		}
		return m, true
	}
}

// expectInvocation waits for an invocation of target with the given
// single argument (compared as JSON text).
func (c *client) expectInvocation(target, arg string) {
	c.t.Helper()
	m, ok := c.next(5 * time.Second)
	if !ok {
		c.t.Fatalf("no message, want %s(%s)", target, arg)
	}
	if m.Type != 1 || m.Target != target || m.InvocationID != nil || len(m.Arguments) != 1 || string(m.Arguments[0]) != arg {
		c.t.Fatalf("got type=%d target=%q args=%s invocationId=%v, want invocation %s(%s) without invocationId",
			m.Type, m.Target, m.Arguments, m.InvocationID, target, arg)
	}
}

// expectNothing asserts that no message arrives within d.
func (c *client) expectNothing(d time.Duration) {
	c.t.Helper()
	if m, ok := c.next(d); ok {
		c.t.Fatalf("unexpected message type=%d target=%q args=%s", m.Type, m.Target, m.Arguments)
	}
}

// expectClose waits for a Close message with the given error text and the
// end of the socket.
func (c *client) expectClose(wantErr string) {
	c.t.Helper()
	m, ok := c.next(5 * time.Second)
	if !ok {
		c.t.Fatalf("no Close message (want error %q)", wantErr)
	}
	got := ""
	if m.Error != nil {
		got = *m.Error
	}
	if m.Type != 7 || got != wantErr {
		c.t.Fatalf("got type=%d error=%q, want Close with error %q", m.Type, got, wantErr)
	}
	if _, ok := c.next(2 * time.Second); ok {
		c.t.Fatal("message after Close")
	}
}

// restResp is a REST answer.
type restResp struct {
	status int
	header http.Header
	body   []byte
}

// rest calls pathAndQuery with a server token whose aud is the path plus
// audQuery (what the SDK signs).
func (e *env) rest(method, path, query, body string) restResp {
	e.t.Helper()
	aud := path
	if q, _ := url.ParseQuery(query); q.Get("api-version") != "" {
		aud += "?api-version=" + q.Get("api-version")
	}
	return e.restWithToken(method, path, query, body, e.restToken(aud))
}

func (e *env) restWithToken(method, path, query, body, token string) restResp {
	e.t.Helper()
	return e.restTyped(method, path, query, "application/json; charset=utf-8", body, token)
}

// restTyped is restWithToken with the body's Content-Type.
func (e *env) restTyped(method, path, query, contentType, body, token string) restResp {
	e.t.Helper()
	u := e.srv.URL + path
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return restResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// errorBody decodes an ErrorDetail body.
type errorBody struct {
	Code    string `json:"code"`
	Level   string `json:"level"`
	Message string `json:"message"`
	Target  string `json:"target"`
}

func (r restResp) errorDetail(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if got := r.header.Get("x-ms-error-code"); got != e.Code {
		t.Fatalf("x-ms-error-code %q != body code %q", got, e.Code)
	}
	return e
}

const apiV = "api-version=2022-06-01"

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
