package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// The reliability suite: each test reproduces one way the handler could be
// taken down or mislead its callers (issue 13 items 1, 2 and 6) against
// the built binary on loopback, and shows it holds. Every test is bounded
// by deadlines on its own connections.

// fakeService is a SignalR REST API on loopback that accepts every call
// (202) after reading its body, or, with hang, holds every call until the
// test ends. calls receives one value per call as it arrives.
type fakeService struct {
	url   string
	calls chan struct{}
	// unblock ends every held call (tests defer it, so that the handler
	// stops at once in its cleanup).
	unblock func()
}

func startFakeService(t *testing.T, hang bool) *fakeService {
	t.Helper()
	f := &fakeService{calls: make(chan struct{}, 4096)}
	done := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case f.calls <- struct{}{}:
		default:
		}
		if hang {
			select {
			case <-done:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	var once sync.Once
	f.unblock = func() { once.Do(func() { close(done) }) }
	t.Cleanup(func() { f.unblock(); ts.Close() })
	f.url = ts.URL
	return f
}

// connStr is the connection string of the fake service.
func (f *fakeService) connStr() string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.url, "http://"))
	return "AzureSignalRConnectionString=Endpoint=http://127.0.0.1;Port=" + port + ";AccessKey=" + strings.Repeat("k", 44) + ";Version=1.0;"
}

// rawRequest opens a connection to the handler and writes head (the
// request line and headers, without the blank line) and then body.
func rawRequest(t *testing.T, base, head, body string) net.Conn {
	t.Helper()
	return rawConn(t, base, head+"\r\n\r\n"+body)
}

// rawConn opens a connection to the handler and writes data.
func rawConn(t *testing.T, base, data string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatal(err)
	}
	return c
}

// readResponse reads one response from c within d.
func readResponse(t *testing.T, c net.Conn, d time.Duration) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response within %s: %v", d, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// TestSlowBodiesAreCut (13.1): connections that trickle a body are closed
// once HANDLER_READ_TIMEOUT has passed (before, they were held forever and
// exhausted the file descriptors), with a 408 saying why, and negotiate
// answers meanwhile.
func TestSlowBodiesAreCut(t *testing.T) {
	svc := startFakeService(t, false)
	p := startHandler(t, svc.connStr(), "HANDLER_READ_TIMEOUT=1s")
	var conns []net.Conn
	for range 20 {
		c := rawRequest(t, p.base, "POST /api/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000", `[{"target":"t",`)
		conns = append(conns, c)
	}
	resp, err := http.Post(p.base+"/api/negotiate", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("negotiate while slow bodies are held: %v %v", resp, err)
	}
	resp.Body.Close()
	start := time.Now()
	for i, c := range conns {
		resp, b := readResponse(t, c, 10*time.Second)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "request.body_timeout") {
			t.Errorf("slow body %d answered %d %s", i, resp.StatusCode, b)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("slow body %d: connection still open (%d bytes more)", i, n)
		}
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("slow bodies were cut after %s, want about HANDLER_READ_TIMEOUT (1s)", el)
	}
}

// TestLongBroadcastOutlivesReadTimeout: the body timeout ends with the body;
// a handler still working after it (a broadcast waiting on a slow service)
// is not cancelled, it answers with the service's own timeout.
func TestLongBroadcastOutlivesReadTimeout(t *testing.T) {
	svc := startFakeService(t, true)
	defer svc.unblock()
	p := startHandler(t, svc.connStr(), "HANDLER_READ_TIMEOUT=1s", "SIGNALR_REST_TIMEOUT=2500ms")
	start := time.Now()
	resp, err := http.Post(p.base+"/api/broadcast", "application/json", strings.NewReader(`{"target":"t"}`))
	if err != nil {
		t.Fatalf("broadcast: %v (the connection was cut)", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("broadcast to a hung service = %d %s, want the service timeout", resp.StatusCode, b)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("answered after %s: cut by the read timeout instead of waiting for SIGNALR_REST_TIMEOUT", el)
	}
}

// TestConnectionCap (13.1): at HANDLER_MAX_CONNECTIONS, new connections
// wait instead of the process running out of descriptors; one warning says
// so on stderr; once the silent connections are timed out, new callers are
// served.
func TestConnectionCap(t *testing.T) {
	svc := startFakeService(t, false)
	p := startHandler(t, svc.connStr(), "HANDLER_READ_TIMEOUT=1s", "HANDLER_IDLE_TIMEOUT=1s", "HANDLER_MAX_CONNECTIONS=16")
	// Half of the slots held by headers that never end, half by idle
	// keep-alive connections after a request.
	for i := range 16 {
		if i%2 == 0 {
			rawConn(t, p.base, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		} else {
			rawConn(t, p.base, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		}
	}
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Post(p.base+"/api/negotiate", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("negotiate after the silent connections timed out: %v %v", resp, err)
	}
	resp.Body.Close()
	p.errOnly.Await("connection limit reached", 5*time.Second) // the warning; checked below
	line := ""
	for _, l := range strings.Split(p.errOnly.String(), "\n") {
		if strings.Contains(l, "connection limit reached") {
			line = l
		}
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] != "WARN" || rec["max_connections"] != float64(16) {
		t.Errorf("no JSON warning naming the cap on stderr: %q\nstderr:\n%s", line, p.errOnly)
	}
}

// TestOversizedBodyRefusedUnread (13.2): a Content-Length over the limit is
// answered 413 at once, without waiting for (or reading) the body.
func TestOversizedBodyRefusedUnread(t *testing.T) {
	svc := startFakeService(t, false)
	p := startHandler(t, svc.connStr())
	c := rawRequest(t, p.base, "POST /api/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600", "")
	resp, b := readResponse(t, c, 5*time.Second)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "request.body_too_large") {
		t.Errorf("100 MB Content-Length answered %d %s", resp.StatusCode, b)
	}
}

// TestEnvelopeInFlightBoundBeforeBody (13.2): with HANDLER_MAX_IN_FLIGHT
// reached, a JSON-mode invocation is refused before its envelope is read,
// answered as the host needs it (200, Outputs.res.statusCode 503 and
// Retry-After). The envelope's body is never sent here: the answer can
// only come from the bound.
func TestEnvelopeInFlightBoundBeforeBody(t *testing.T) {
	svc := startFakeService(t, true)
	defer svc.unblock()
	p := startHandler(t, svc.connStr(), "HANDLER_MAX_IN_FLIGHT=1", "SIGNALR_REST_TIMEOUT=30s")
	go func() {
		resp, err := http.Post(p.base+"/api/broadcast", "application/json", strings.NewReader(`{"target":"t"}`))
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-svc.calls: // the first broadcast is in flight
	case <-time.After(10 * time.Second):
		t.Fatal("the first broadcast never reached the service")
	}
	c := rawRequest(t, p.base, "POST /broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 3000000", "")
	resp, b := readResponse(t, c, 5*time.Second)
	var out hostAnswer
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("envelope over the bound answered %d %s; the host needs 200 with Outputs", resp.StatusCode, b)
	}
	res := out.Outputs.Res
	if res.StatusCode != 503 || res.Headers["Retry-After"] == "" || !strings.Contains(res.Body, "request.overloaded") {
		t.Errorf("Outputs.res = %+v, want 503 request.overloaded with Retry-After", res)
	}
	// Forwarded calls of the same function share the bound.
	resp2, err := http.Post(p.base+"/api/broadcast", "application/json", strings.NewReader(`{"target":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 503 || resp2.Header.Get("Retry-After") == "" {
		t.Errorf("forwarded broadcast over the bound = %d", resp2.StatusCode)
	}
}

// TestBodyMemoryBounded (13.2): 48 concurrent broadcasts of 8 MiB each are
// all delivered while the handler's peak RSS stays under 150 MB (bodies
// are admitted within HANDLER_MAX_BODY_MEMORY_MB and decoded without
// holding copies). Linux only: it reads VmHWM from /proc.
func TestBodyMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	if testing.Short() {
		t.Skip("moves 400 MB over loopback")
	}
	svc := startFakeService(t, false)
	// Waiting for room in the body budget is bounded by the read timeout:
	// give a loaded machine time, the figure measured is memory.
	p := startHandler(t, svc.connStr(), "HANDLER_READ_TIMEOUT=2m")
	body := testutil.LargeBroadcast(8 << 20)
	within150MB(t, p, 48, "concurrent 8 MiB broadcasts", func() string {
		client := &http.Client{Timeout: 2 * time.Minute}
		resp, err := client.Post(p.base+"/api/broadcast", "application/json", bytes.NewReader(body))
		if err != nil {
			return err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Sprintf("%d %.200s", resp.StatusCode, b)
		}
		return ""
	})
}

// within150MB runs send n times at once against p, reports every failure
// send describes (an empty string is success), and requires p's peak RSS
// to stay under 150 MB.
func within150MB(t *testing.T, p *handlerProc, n int, what string, send func() string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for range n {
		wg.Go(func() {
			if e := send(); e != "" {
				errs <- e
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("%s: %s", what, e)
	}
	hwm := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("peak RSS %.1f MB after %d %s", float64(hwm)/1e6, n, what)
	if hwm > 150e6 {
		t.Errorf("peak RSS %.1f MB, want under 150 MB", float64(hwm)/1e6)
	}
}

// peakRSS reads a process's peak resident set size in bytes.
func peakRSS(t *testing.T, pid int) int64 { t.Helper(); return procStatus(t, pid, "VmHWM:") }

// procStatus reads one "Key: N kB" line of /proc/<pid>/status, in bytes.
func procStatus(t *testing.T, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// TestStateChangingNeedsJSON (13.6): a broadcast whose Content-Type is not
// application/json (optional charset), or is missing, is 415: the kinds of
// body a page on another origin can send without a CORS preflight never
// reach the service.
func TestStateChangingNeedsJSON(t *testing.T) {
	svc := startFakeService(t, false)
	p := startHandler(t, svc.connStr()) // CORS left to the platform, as in the report
	for _, tc := range []struct {
		ct     string
		status int
	}{
		{"", 415},
		{"text/plain", 415},
		{"text/plain;charset=UTF-8", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/json; boundary=x", 415},
		{"application/problem+json", 415},
		{"application/json", 202},
		{"application/json; charset=utf-8", 202},
		{"Application/JSON;Charset=UTF-8", 202},
	} {
		req, _ := http.NewRequest("POST", p.base+"/api/broadcast", strings.NewReader(`{"target":"t","arguments":[]}`))
		req.Header.Set("Origin", "https://evil.example")
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("Content-Type %q = %d %s, want %d", tc.ct, resp.StatusCode, b, tc.status)
		}
		if tc.status == 415 && !strings.Contains(string(b), "request.unsupported_media_type") {
			t.Errorf("Content-Type %q: %s", tc.ct, b)
		}
	}
	select {
	case <-svc.calls:
	default:
		t.Error("the JSON broadcasts never reached the service")
	}
}

// TestEnvelopeMemoryBounded (13.2): 32 concurrent 3 MB broadcast envelopes,
// sent chunked as the host sends them, are all answered while the
// handler's peak RSS stays under 150 MB (each chunked envelope reserves its
// largest size in the body budget before it is read).
func TestEnvelopeMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	svc := startFakeService(t, false)
	p := startHandler(t, svc.connStr(), "HANDLER_READ_TIMEOUT=2m")
	body := string(testutil.LargeBroadcast(3 << 20))
	env, _ := json.Marshal(map[string]any{
		"Data": map[string]any{"req": map[string]any{
			"Url": "http://localhost:7071/api/broadcast", "Method": "POST",
			"Headers": map[string][]string{"Content-Type": {"application/json"}}, "Body": body,
		}},
		"Metadata": map[string]any{},
	})
	within150MB(t, p, 32, "concurrent 3 MB envelopes", func() string {
		pr, pw := io.Pipe()
		go func() { pw.Write(env); pw.Close() }()
		req, _ := http.NewRequest("POST", p.base+"/broadcast", pr)
		req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		client := &http.Client{Timeout: 2 * time.Minute}
		resp, err := client.Do(req)
		if err != nil {
			return err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out hostAnswer
		if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || out.Outputs.Res.StatusCode != http.StatusAccepted {
			return fmt.Sprintf("%d %.200s", resp.StatusCode, b)
		}
		return ""
	})
}
