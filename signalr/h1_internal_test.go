//go:build unix

package signalr

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// rawServer serves loopback connections with serve and counts them.
type rawServer struct {
	addr  string
	conns atomic.Int64
}

func newRawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	s := &rawServer{}
	s.addr = testutil.ServeTCP(t, func(c net.Conn) {
		s.conns.Add(1)
		serve(c, bufio.NewReader(c))
	})
	return s
}

func (s *rawServer) url() string { return "http://" + s.addr + "/api/x" }

// h1Post sends a small POST over tr and reads its answer whole.
func h1Post(t *testing.T, tr *h1Transport, ctx context.Context, target string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(`{"a":1}`)), nil }
	resp, err := tr.Do(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// answer reads one request and writes head (status line and headers,
// without the blank line) and body.
func answer(c net.Conn, br *bufio.Reader, head, body string) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	_, err = io.WriteString(c, head+"\r\n\r\n"+body)
	return err == nil
}

func TestH1ReusesItsConnection(t *testing.T) {
	var gotReused []bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := newH1Transport(nil)
	for range 3 {
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { gotReused = append(gotReused, i.Reused) }}
		ctx := httptrace.WithClientTrace(context.Background(), trace)
		resp, body, err := h1Post(t, tr, ctx, srv.URL+"/api/x")
		if err != nil || resp.StatusCode != 200 || body != `{"a":1}` {
			t.Fatalf("answer %v %q %v", resp, body, err)
		}
	}
	if conns.Load() != 1 {
		t.Fatalf("%d connections for 3 sequential requests, want 1", conns.Load())
	}
	if len(gotReused) != 3 || gotReused[0] || !gotReused[1] || !gotReused[2] {
		t.Fatalf("GotConn Reused = %v, want [false true true]", gotReused)
	}
}

func TestH1ChunkedAnswerIsReadAndReused(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for answer(c, br, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") {
		}
	})
	tr := newH1Transport(nil)
	for range 2 {
		if _, body, err := h1Post(t, tr, context.Background(), srv.url()); err != nil || body != "abcde" {
			t.Fatalf("body %q, %v", body, err)
		}
	}
	if srv.conns.Load() != 1 {
		t.Fatalf("%d connections, want 1", srv.conns.Load())
	}
}

func TestH1DropsWhatItCannotReuse(t *testing.T) {
	for name, tc := range map[string]struct {
		serve    func(c net.Conn, br *bufio.Reader)
		readBody bool
	}{
		// The service asks to close: the next request dials again.
		"Connection: close": {func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 2", "ok")
		}, true},
		// The service closes an idle connection without saying so: the
		// peek before reuse sees its end of file.
		"closed while idle": {func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "HTTP/1.1 202 Accepted\r\nContent-Length: 2", "ok")
		}, true},
		// A body closed before its end leaves the connection unusable.
		"body not read": {func(c net.Conn, br *bufio.Reader) {
			for answer(c, br, "HTTP/1.1 200 OK\r\nContent-Length: 5", "hello") {
			}
		}, false},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newRawServer(t, tc.serve)
			tr := newH1Transport(nil)
			for i := range 2 {
				req, _ := http.NewRequest(http.MethodPost, srv.url(), strings.NewReader("{}"))
				resp, err := tr.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if tc.readBody {
					_, _ = io.ReadAll(resp.Body)
				}
				resp.Body.Close()
				if name == "closed while idle" && i == 0 {
					waitPeerClosed(t, tr)
				}
			}
			if srv.conns.Load() != 2 {
				t.Fatalf("%d connections, want 2", srv.conns.Load())
			}
		})
	}
}

// waitPeerClosed waits until the one idle connection of tr shows that its
// peer closed it.
func waitPeerClosed(t *testing.T, tr *h1Transport) {
	t.Helper()
	tr.mu.Lock()
	var pc *h1Conn
	for _, l := range tr.idle {
		if len(l) == 1 {
			pc = l[0]
		}
	}
	tr.mu.Unlock()
	if pc == nil {
		t.Fatal("no idle connection after a keep-alive answer")
	}
	// Wait, on the poller, until the socket is readable (its end of file),
	// leaving the bytes for the peek.
	raw := pc.wc.Conn
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	rc, err := raw.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	}); err != nil {
		t.Fatalf("the peer's close never showed: %v", err)
	}
	_ = raw.SetReadDeadline(time.Time{})
	if pc.alive() {
		t.Fatal("alive reports a connection its peer closed as open")
	}
}

func TestH1StaleConnectionThatTookNothingIsReplaced(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		answer(c, br, "HTTP/1.1 202 Accepted\r\nContent-Length: 0", "")
	})
	tr := newH1Transport(nil)
	u, _ := url.Parse(srv.url())
	key := h1Key{host: u.Host}
	// An idle connection whose far end is gone and that no peek can see
	// through: its first write fails with no byte accepted.
	a, b := net.Pipe()
	b.Close()
	wc := &wireConn{Conn: a}
	stale := &h1Conn{Conn: wc, wc: wc, alive: peeker(a), tr: tr, key: key, br: bufio.NewReader(wc), bw: bufio.NewWriter(wc)}
	tr.put(stale)
	var conns []bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conns = append(conns, i.Reused) }}
	resp, _, err := h1Post(t, tr, httptrace.WithClientTrace(context.Background(), trace), srv.url())
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("%v %v", resp, err)
	}
	if len(conns) != 2 || !conns[0] || conns[1] {
		t.Fatalf("GotConn Reused = %v, want [true false]: the stale connection, then a fresh one", conns)
	}

	// A request whose body cannot be replayed is not resent.
	a, b = net.Pipe()
	b.Close()
	wc = &wireConn{Conn: a}
	tr.put(&h1Conn{Conn: wc, wc: wc, alive: peeker(a), tr: tr, key: key, br: bufio.NewReader(wc), bw: bufio.NewWriter(wc)})
	req, _ := http.NewRequest(http.MethodPost, srv.url(), strings.NewReader("{}"))
	req.GetBody = nil
	if _, err := tr.Do(req); err == nil {
		t.Fatal("a body without GetBody was resent")
	}
}

func TestH1InformationalAnswerIsSkipped(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		answer(c, br, "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 4", "done")
	})
	resp, body, err := h1Post(t, newH1Transport(nil), context.Background(), srv.url())
	if err != nil || resp.StatusCode != 202 || body != "done" {
		t.Fatalf("%v %q %v", resp, body, err)
	}
}

func TestH1HeadAnswerHasNoBody(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for answer(c, br, "HTTP/1.1 200 OK\r\nContent-Length: 10", "") {
		}
	})
	tr := newH1Transport(nil)
	for range 2 {
		req, _ := http.NewRequest(http.MethodHead, srv.url(), nil)
		resp, err := tr.Do(req)
		if err != nil || resp.StatusCode != 200 || resp.Body != http.NoBody {
			t.Fatalf("%v %v", resp, err)
		}
	}
	if srv.conns.Load() != 1 {
		t.Fatalf("%d connections, want 1: a HEAD answer has no body to wait for", srv.conns.Load())
	}
}

func TestH1ContextEndsABlockedRead(t *testing.T) {
	release := make(chan struct{})
	closed := make(chan struct{})
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
		close(release)
		_, _ = io.Copy(io.Discard, c) // returns when the client closes
		close(closed)
	})
	tr := newH1Transport(nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.url(), strings.NewReader("{}"))
	resp, err := tr.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-release
	go cancel()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("reading a body whose context ended succeeded")
	}
	resp.Body.Close()
	<-closed // the connection was closed, not pooled

	// Before the answer: the error is the context's, in a *url.Error.
	srv2 := newRawServer(t, func(c net.Conn, br *bufio.Reader) { _, _ = io.Copy(io.Discard, c) })
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = h1Post(t, tr, ctx, srv2.url())
	var ue *url.Error
	if !errors.As(err, &ue) || ue.Op != "Post" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %#v, want a *url.Error (Post) wrapping the deadline", err)
	}
}

func TestH1PoolIsBounded(t *testing.T) {
	tr := newH1Transport(nil)
	now := time.Unix(1000, 0)
	tr.now = func() time.Time { return now }
	var first *h1Conn
	for i := range maxIdlePerHost + 1 {
		a, _ := net.Pipe()
		wc := &wireConn{Conn: a}
		pc := &h1Conn{Conn: wc, wc: wc, alive: peeker(a), tr: tr, key: h1Key{host: "k"}, br: bufio.NewReader(wc)}
		if i == 0 {
			first = pc
		}
		tr.put(pc)
	}
	if n := len(tr.idle[h1Key{host: "k"}]); n != maxIdlePerHost {
		t.Fatalf("%d idle connections kept, want %d", n, maxIdlePerHost)
	}
	if _, err := first.Write([]byte("x")); err == nil {
		t.Fatal("the connection idle for longest was not closed")
	}
	// A connection put back drops the ones idle for idleConnTimeout, even
	// with room in the pool: the oldest 10 are past it.
	for _, pc := range tr.idle[h1Key{host: "k"}][:10] {
		pc.idleAt = now.Add(-idleConnTimeout)
	}
	old := tr.idle[h1Key{host: "k"}][0]
	a, _ := net.Pipe()
	wc := &wireConn{Conn: a}
	tr.put(&h1Conn{Conn: wc, wc: wc, alive: peeker(a), tr: tr, key: h1Key{host: "k"}, br: bufio.NewReader(wc)})
	if n := len(tr.idle[h1Key{host: "k"}]); n != maxIdlePerHost-10+1 {
		t.Fatalf("%d idle connections after a put, want %d", n, maxIdlePerHost-10+1)
	}
	if _, err := old.Write([]byte("x")); err == nil {
		t.Fatal("a connection idle for idleConnTimeout was kept")
	}
	// After idleConnTimeout nothing is reused.
	now = now.Add(idleConnTimeout)
	if pc := tr.get(h1Key{host: "k"}); pc != nil {
		t.Fatal("an idle connection older than idleConnTimeout was reused")
	}
	if n := len(tr.idle[h1Key{host: "k"}]); n != 0 {
		t.Fatalf("%d expired connections left in the pool", n)
	}
}

func TestURLErrorOp(t *testing.T) {
	for in, want := range map[string]string{"POST": "Post", "GET": "Get", "": "Get", "DELETE": "Delete", "HEAD": "Head"} {
		if got := urlErrorOp(in); got != want {
			t.Errorf("urlErrorOp(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestH1EarlyAnswerWinsOverAFailedWrite(t *testing.T) {
	// The service answers after the headers and closes without reading the
	// body; the body is far larger than the sockets' buffers, so the write
	// fails.
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 7\r\n\r\nno key\n")
		c.(*net.TCPConn).CloseWrite()
	})
	big := strings.Repeat("x", 16<<20) // more than both sockets buffer on loopback
	req, _ := http.NewRequest(http.MethodPost, srv.url(), strings.NewReader(big))
	resp, err := newH1Transport(nil).Do(req)
	if err != nil {
		t.Fatalf("err = %v, want the service's 401", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || string(b) != "no key\n" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

func TestH1BoundsTheAnswersHead(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
		for range 2000 { // 2 MB of headers, never ended
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	})
	_, _, err := h1Post(t, newH1Transport(nil), context.Background(), srv.url())
	if !errors.Is(err, errHeadTooLarge) {
		t.Fatalf("err = %v, want errHeadTooLarge", err)
	}
}
