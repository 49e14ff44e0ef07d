package signalr

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/serverless-signalr/functions-go/internal/netutil"
)

// The client's own transport. A client built without a Transport of the
// caller's, and with no proxy configured for its endpoint, sends its
// requests over h1Transport: HTTP/1.1 on keep-alive connections that the
// calling goroutine writes and reads itself. net/http's transport hands
// every request to a write goroutine and every answer back from a read
// goroutine of the connection, and each hand-off may wake another thread
// (and, on a virtual machine, an idle vCPU); without them a broadcast
// through the handler was about 10 % faster in a side-by-side test on
// loopback (README, Benchmarks). The Management SDK's HttpClient also
// speaks HTTP/1.1 to the service by default (.NET's
// HttpRequestMessage.Version and HttpClient.DefaultRequestVersion are 1.1
// unless set; learn.microsoft.com, System.Net.Http). Requests and
// answers are written and read in h1msg.go (as net/http's Request.Write
// and http.ReadResponse would, which it falls back to); this file owns
// the connections:
//   - a pool of idle connections per host (last in, first out), each
//     dropped after idleConnTimeout, at most maxIdlePerHost kept;
//   - before an idle connection is reused, a non-blocking peek at its
//     socket (peeker, peek_unix.go): a connection the service closed
//     while it was idle shows its end of file there and is dropped
//     instead of failing the next send;
//   - a reused connection that fails before the operating system
//     accepted any byte of the request is replaced by a fresh one, once,
//     since nothing was sent;
//   - the try's context ends a blocked write or read by setting the
//     connection's deadline in the past (context.AfterFunc), and such a
//     connection is closed;
//   - an answer the service sent before a write failed (a refusal of a
//     large body) is returned rather than the write's error;
//   - an answer's head is bounded (maxHeaderBytes);
//   - a connection goes back to the pool when its answer's body has been
//     read to the end, unless either side asked to close it.
//
// The httptrace hooks the retry rule relies on (GotConn, WroteRequest,
// TLSHandshakeStart and TLSHandshakeDone) are called as net/http calls
// them, and every connection counts its bytes (wire.go). Redirects are
// never followed: a 3xx is returned as the answer. An idle connection the
// service closed keeps its descriptor until the next call puts or takes a
// connection (put drops those idle for idleConnTimeout).

const (
	idleConnTimeout = 90 * time.Second
	maxIdlePerHost  = 64
	dialTimeout     = 5 * time.Second
	tlsTimeout      = 10 * time.Second
	h1BufferSize    = 8 << 10
	maxHeaderBytes  = 1 << 20
	// earlyAnswerWait bounds the read of an answer sent before a failed
	// write (exchange).
	earlyAnswerWait = time.Second
)

// aLongTimeAgo is a deadline in the past: it ends a blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

// h1Transport is the client's HTTP/1.1 transport (see above).
type h1Transport struct {
	tls    *tls.Config // the caller's configuration with the TLS 1.2 floor (tlsFloor)
	dialer net.Dialer
	now    func() time.Time

	mu   sync.Mutex
	idle map[h1Key][]*h1Conn
}

func newH1Transport(cfg *tls.Config) *h1Transport {
	return &h1Transport{
		tls:    tlsFloor(cfg),
		dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		now:    time.Now,
		idle:   make(map[h1Key][]*h1Conn),
	}
}

// h1Key names the endpoint of a pooled connection: the URL's scheme and
// host as written (no allocation per request).
type h1Key struct {
	https bool
	host  string
}

// h1Conn is one connection of the pool.
type h1Conn struct {
	net.Conn           // the TLS connection, or wc
	wc       *wireConn // the TCP connection, counting bytes
	br       *bufio.Reader
	bw       *bufio.Writer
	alive    func() bool // see peeker
	head     headLimit   // under br: bounds an answer's head
	tr       *h1Transport
	key      h1Key
	idleAt   time.Time
}

// Do sends req and returns its answer, whose body the caller must read to
// the end and close for the connection to be reused.
func (t *h1Transport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.roundTrip(req)
	if err != nil {
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.Redacted(), Err: err}
	}
	return resp, nil
}

// urlErrorOp is the Op net/http's client puts in its *url.Error: the
// method with its first letter only in upper case ("Post", "Get").
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	b := []byte(method)
	for i := 1; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

func (t *h1Transport) roundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("unsupported URL")
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := h1Key{https: u.Scheme == "https", host: u.Host}
	pc := t.get(key)
	reused := pc != nil
	for {
		if pc == nil {
			var err error
			if pc, err = t.dial(ctx, trace, u, key); err != nil {
				return nil, err
			}
		}
		if trace != nil && trace.GotConn != nil {
			info := httptrace.GotConnInfo{Conn: pc.Conn, Reused: reused, WasIdle: reused}
			if reused {
				info.IdleTime = t.now().Sub(pc.idleAt)
			}
			trace.GotConn(info)
		}
		before := pc.wc.written.Load()
		resp, err := pc.exchange(ctx, trace, req)
		if err == nil {
			return resp, nil
		}
		pc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if reused && pc.wc.written.Load() == before && rewind(req) {
			// A stale idle connection took nothing: one try on a fresh one.
			pc, reused = nil, false
			continue
		}
		return nil, err
	}
}

// rewind gives req a fresh body for another attempt, reporting whether it
// could.
func rewind(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	if req.GetBody == nil {
		return false
	}
	b, err := req.GetBody()
	if err != nil {
		return false
	}
	req.Body = b
	return true
}

// exchange writes req on the connection and reads the head of its
// answer. The answer's body, when it has one, holds the connection until
// it is read to the end or closed.
func (pc *h1Conn) exchange(ctx context.Context, trace *httptrace.ClientTrace, req *http.Request) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { _ = pc.SetDeadline(aLongTimeAgo) })
	err := writeRequest(pc.bw, req)
	if err == nil {
		err = pc.bw.Flush()
	}
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	if err != nil && ctx.Err() == nil {
		// The service may have answered and closed before it read the
		// whole body (a 401 or a 413 for a large one): that answer, not
		// the failed write, is the result, as with net/http's transport,
		// whose read loop would have had it first.
		_ = pc.SetReadDeadline(time.Now().Add(earlyAnswerWait))
		if resp, rerr := pc.readHead(req); rerr == nil && resp.StatusCode >= 200 {
			return pc.hold(resp, stop, false), nil // the request was cut: never reused
		}
	}
	var resp *http.Response
	for err == nil {
		resp, err = pc.readHead(req)
		// An informational answer (100 Continue, 103 Early Hints) is
		// followed by the real one.
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode < 100 {
			break
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	return pc.hold(resp, stop, !resp.Close && !req.Close), nil
}

// hold ties the connection to resp: its body releases the connection
// (to the pool when reuse and read to the end); without a body it is
// released at once.
func (pc *h1Conn) hold(resp *http.Response, stop func() bool, reuse bool) *http.Response {
	if resp.Body == http.NoBody {
		pc.release(stop, reuse)
	} else {
		resp.Body = &h1Body{rc: resp.Body, pc: pc, stop: stop, reuse: reuse}
	}
	return resp
}

// readHead reads the status line and headers of an answer, at most
// maxHeaderBytes of them (net/http's transport bounds them at 10 MiB).
func (pc *h1Conn) readHead(req *http.Request) (*http.Response, error) {
	pc.head.n = maxHeaderBytes
	var resp *http.Response
	// The first bytes are awaited here, once: a failed read is not tried
	// again by http.ReadResponse (after a reset, a second read would
	// report an end of file instead). Its error is ReadResponse's.
	_, err := pc.br.Peek(1)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		var ok bool
		if resp, ok = readPlainHead(pc.br, req); !ok {
			resp, err = http.ReadResponse(pc.br, req)
		}
	}
	pc.head.n = -1
	if err != nil && pc.head.hit {
		err = errHeadTooLarge
	}
	return resp, err
}

// headLimit reads from r, at most n bytes while n ≥ 0 (the head of an
// answer); hit records that the bound was reached.
type headLimit struct {
	r   io.Reader
	n   int64
	hit bool
}

var errHeadTooLarge = errors.New("the answer's headers are larger than 1 MiB")

func (l *headLimit) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		l.hit = true
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// release ends the connection's exchange: back to the pool when it may be
// reused and its context did not fire, else closed.
func (pc *h1Conn) release(stop func() bool, reuse bool) {
	if stop() && reuse {
		pc.tr.put(pc)
		return
	}
	pc.Close()
}

// h1Body is an answer's body; at its end the connection is released.
type h1Body struct {
	rc    io.ReadCloser
	pc    *h1Conn
	stop  func() bool
	reuse bool
	mu    sync.Mutex
	done  bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.finish(false)
	return nil
}

// finish releases the connection once: to the pool when the body was read
// to its end, else closed (what is left of the answer is not read).
func (b *h1Body) finish(atEOF bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.done = true
	b.pc.release(b.stop, b.reuse && atEOF)
}

// get returns an idle connection for key that still looks open, or nil.
// Connections idle for longer than idleConnTimeout, and those whose peer
// closed them or sent something unasked (peek), are closed on the way.
func (t *h1Transport) get(key h1Key) *h1Conn {
	now := t.now()
	for {
		t.mu.Lock()
		list := t.idle[key]
		if len(list) == 0 {
			t.mu.Unlock()
			return nil
		}
		pc := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[key] = list[:len(list)-1]
		t.mu.Unlock()
		if now.Sub(pc.idleAt) < idleConnTimeout && pc.br.Buffered() == 0 && pc.alive() {
			return pc
		}
		pc.Close()
	}
}

// put returns a connection to the pool. The ones idle for longest go
// first: beyond maxIdlePerHost, and once idle for idleConnTimeout (so a
// steady trickle of calls, which only ever reuses the newest, does not
// keep old descriptors the service has long closed).
func (t *h1Transport) put(pc *h1Conn) {
	now := t.now()
	pc.idleAt = now
	t.mu.Lock()
	list := append(t.idle[pc.key], pc)
	n := 0
	for n < len(list)-1 && (len(list)-n > maxIdlePerHost || now.Sub(list[n].idleAt) >= idleConnTimeout) {
		n++
	}
	var drop []*h1Conn
	if n > 0 {
		drop = slices.Clone(list[:n])
		m := copy(list, list[n:])
		clear(list[m:])
		list = list[:m]
	}
	t.idle[pc.key] = list
	t.mu.Unlock()
	for _, d := range drop {
		d.Close()
	}
}

// dial opens a connection to u's host: TCP, then TLS with the TLS 1.2
// floor for https, offering only HTTP/1.1.
func (t *h1Transport) dial(ctx context.Context, trace *httptrace.ClientTrace, u *url.URL, key h1Key) (*h1Conn, error) {
	addr := netutil.HostPort(u)
	if trace != nil && trace.ConnectStart != nil {
		trace.ConnectStart("tcp", addr)
	}
	raw, err := t.dialer.DialContext(ctx, "tcp", addr)
	if trace != nil && trace.ConnectDone != nil {
		trace.ConnectDone("tcp", addr, err)
	}
	if err != nil {
		return nil, err
	}
	wc := &wireConn{Conn: raw}
	pc := &h1Conn{Conn: wc, wc: wc, alive: peeker(raw), tr: t, key: key}
	if u.Scheme == "https" {
		cfg := t.tls.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(wc, cfg)
		if trace != nil && trace.TLSHandshakeStart != nil {
			trace.TLSHandshakeStart()
		}
		hctx, cancel := context.WithTimeout(ctx, tlsTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if trace != nil && trace.TLSHandshakeDone != nil {
			trace.TLSHandshakeDone(tc.ConnectionState(), err)
		}
		if err != nil {
			wc.Close()
			return nil, err
		}
		pc.Conn = tc
	}
	pc.head = headLimit{r: pc.Conn, n: -1}
	pc.br = bufio.NewReaderSize(&pc.head, h1BufferSize)
	pc.bw = bufio.NewWriterSize(pc.Conn, h1BufferSize)
	return pc, nil
}
