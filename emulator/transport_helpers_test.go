package emulator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// httpClient is a JSON hub protocol client on the Server-Sent Events or
// long-polling transport, doing what @microsoft/signalr does: the token in
// the access_token query of the event stream, in the Authorization header
// of everything else. Received units go to the embedded client's frames.
type httpClient struct {
	*client
	e      *env
	hub    string
	token  string // connection token
	bearer string
	reqCtx context.Context // polls end with the test
	cancel context.CancelFunc
	done   chan struct{}
	// reading is set once a goroutine reads the transport (done is closed
	// when it stops).
	reading bool

	mu         sync.Mutex
	lastStatus int // status of the last poll (long polling)
}

func (e *env) clientURL(hub, connToken string) string {
	return e.srv.URL + "/client/?hub=" + hub + "&id=" + url.QueryEscape(connToken)
}

// connectSSE negotiates, opens the event stream and completes the handshake.
func (e *env) connectSSE(hub, user string) *httpClient {
	e.t.Helper()
	tok := e.clientToken(hub, user)
	n := e.negotiate(hub, tok)
	hc := e.openSSE(hub, n.ConnectionToken, tok)
	hc.id = n.ConnectionID
	hc.handshake()
	return hc
}

// openSSE opens the event stream and starts reading events into frames.
func (e *env) openSSE(hub, connToken, tok string) *httpClient {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.clientURL(hub, connToken)+"&access_token="+url.QueryEscape(tok), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		e.t.Fatalf("event stream: status %d content-type %q cache-control %q body %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), b)
	}
	hc := e.newHTTPClient(hub, connToken, tok, cancel)
	hc.reading = true
	go func() {
		defer close(hc.done)
		defer close(hc.frames)
		defer resp.Body.Close()
		readEvents(resp.Body, func(data string) { hc.frames <- []byte(data) })
	}()
	return hc
}

// readEvents parses a text/event-stream and calls emit with each event's
// data (data lines joined with LF, as EventSource does).
func readEvents(r io.Reader, emit func(string)) {
	br := bufio.NewReader(r)
	var data []string
	have := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "":
			if have {
				emit(strings.Join(data, "\n"))
			}
			data, have = nil, false
		case strings.HasPrefix(line, ":"):
			// comment
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			if field == "data" {
				data = append(data, value)
				have = true
			}
		}
	}
}

// connectLongPolling negotiates, makes the first poll (which must answer
// 200 at once, empty), completes the handshake and keeps polling.
func (e *env) connectLongPolling(hub, user string) *httpClient {
	e.t.Helper()
	tok := e.clientToken(hub, user)
	n := e.negotiate(hub, tok)
	hc := e.openLongPolling(hub, n.ConnectionToken, tok)
	hc.id = n.ConnectionID
	hc.handshake()
	return hc
}

// openLongPolling makes the first poll and starts the polling loop.
func (e *env) openLongPolling(hub, connToken, tok string) *httpClient {
	e.t.Helper()
	hc := e.startLongPolling(hub, connToken, tok)
	hc.reading = true
	go hc.pollLoop()
	return hc
}

// startLongPolling makes the first poll only.
func (e *env) startLongPolling(hub, connToken, tok string) *httpClient {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hc := e.newHTTPClient(hub, connToken, tok, cancel)
	hc.reqCtx = ctx
	start := time.Now()
	status, body := hc.pollOnce(ctx)
	if status != http.StatusOK || len(body) != 0 || time.Since(start) > 2*time.Second {
		cancel()
		e.t.Fatalf("first poll: status %d body %q after %v; want 200, empty, at once", status, body, time.Since(start))
	}
	return hc
}

func (e *env) newHTTPClient(hub, connToken, tok string, cancel context.CancelFunc) *httpClient {
	hc := &httpClient{
		client: &client{t: e.t, frames: make(chan []byte, 1<<16)},
		e:      e, hub: hub, token: connToken, bearer: tok, cancel: cancel, done: make(chan struct{}),
	}
	e.t.Cleanup(func() {
		cancel()
		if !hc.reading {
			return
		}
		select {
		case <-hc.done:
		case <-time.After(5 * time.Second):
		}
	})
	return hc
}

// pollOnce makes one poll with the Authorization header.
func (hc *httpClient) pollOnce(ctx context.Context) (int, []byte) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hc.e.clientURL(hc.hub, hc.token)+"&_=1", nil)
	req.Header.Set("Authorization", "Bearer "+hc.bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// pollLoop polls until a poll answers anything but 200 or the test ends.
func (hc *httpClient) pollLoop() {
	defer close(hc.done)
	defer close(hc.frames)
	for {
		status, body := hc.pollOnce(hc.reqCtx)
		hc.mu.Lock()
		hc.lastStatus = status
		hc.mu.Unlock()
		if status != http.StatusOK {
			return
		}
		if len(body) > 0 {
			hc.frames <- body
		}
	}
}

// status is the status of the poll that ended the polling loop.
func (hc *httpClient) status() int {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.lastStatus
}

// post sends s as a client-to-server POST and returns the status.
func (hc *httpClient) post(s string) restResp {
	hc.t.Helper()
	return hc.request(http.MethodPost, s, hc.bearer)
}

func (hc *httpClient) request(method, body, bearer string) restResp {
	hc.t.Helper()
	req, _ := http.NewRequest(method, hc.e.clientURL(hc.hub, hc.token), strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		hc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return restResp{status: resp.StatusCode, header: resp.Header, body: b}
}

func (hc *httpClient) handshake() {
	hc.t.Helper()
	if r := hc.post(`{"protocol":"json","version":1}` + "\x1e"); r.status != http.StatusOK {
		hc.t.Fatalf("handshake POST: %d %s", r.status, r.body)
	}
	if rec := hc.nextRaw(5 * time.Second); string(rec) != "{}" {
		hc.t.Fatalf("handshake response %q, want {}", rec)
	}
}

// waitEnd waits until the transport has ended (stream closed, or a poll
// answered other than 200).
func (hc *httpClient) waitEnd(d time.Duration) bool {
	select {
	case <-hc.done:
		return true
	case <-time.After(d):
		return false
	}
}

// waitGone waits for the emulator's debug record that connection id of
// hub has ended (logged once it is unregistered), then checks that HEAD
// connection answers 404.
func (e *env) waitGone(hub, id string) {
	e.t.Helper()
	h, _ := json.Marshal(hub)
	c, _ := json.Marshal(id)
	ended := `"msg":"emulator: client disconnected","hub":` + string(h) + `,"connectionId":` + string(c)
	if !e.log.Await(ended, 10*time.Second) {
		e.t.Errorf("no record of connection %s ending", id)
	}
	if r := e.rest("HEAD", "/api/hubs/"+hub+"/connections/"+id, apiV, ""); r.status != http.StatusNotFound {
		e.t.Fatalf("connection %s still exists (HEAD %d)", id, r.status)
	}
}
