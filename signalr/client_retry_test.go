package signalr_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

var hello = signalr.Message{Target: "hello", Arguments: []byte(`[1]`)}

func sendToAll(c *signalr.Client) error {
	_, err := c.SendToAll(context.Background(), "chat", hello, nil)
	return err
}

func addToGroup(c *signalr.Client) error { // an idempotent PUT
	_, err := c.AddConnectionToGroup(context.Background(), "chat", "g", "c1", nil)
	return err
}

// statusSequence answers the n-th request with codes[n] (the last one repeats).
func statusSequence(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[min(n, len(codes)-1)])
	}
}

func TestRetryStatusMatrix(t *testing.T) { onBothPaths(t, testRetryStatusMatrix) }

func testRetryStatusMatrix(t *testing.T) {
	cases := []struct {
		name      string
		op        func(*signalr.Client) error
		codes     []int
		wantTries int
		want      string
	}{
		{"send 429 then ok", sendToAll, []int{429, 429, 202}, 3, ""},
		{"send 503 exhausted", sendToAll, []int{503}, 3, "status 503"},
		{"send 408 then ok", sendToAll, []int{408, 202}, 2, ""},
		{"send 500 not retried", sendToAll, []int{500, 202}, 1, "status 500"},
		{"send 502 not retried", sendToAll, []int{502, 202}, 1, "status 502"},
		{"send 504 not retried", sendToAll, []int{504, 202}, 1, "status 504"},
		{"send 400 not retried", sendToAll, []int{400, 202}, 1, "status 400"},
		{"put 500 retried", addToGroup, []int{500, 500, 200}, 3, ""},
		{"put 502 retried", addToGroup, []int{502, 200}, 2, ""},
		{"put 504 exhausted", addToGroup, []int{504}, 3, "status 504"},
		{"put 401 not retried", addToGroup, []int{401, 200}, 1, "status 401"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, statusSequence(tc.codes...))
			o := quietOptions()
			o.Breaker.Disabled = true
			err := tc.op(newTestClient(t, rec.srv.URL, o))
			if got := outcome(err); got != tc.want {
				t.Errorf("outcome = %q, want %q (err %v)", got, tc.want, err)
			}
			if n := len(rec.requests()); n != tc.wantTries {
				t.Errorf("server saw %d tries, want %d", n, tc.wantTries)
			}
		})
	}
}

// slowRetries allows Retry-After delays up to 2s.
func slowRetries() *signalr.ClientOptions {
	o := quietOptions()
	o.Retry.MaxRetryDelay = 2 * time.Second
	return o
}

// seqHandler answers the n-th request (0-based) with reply and counts them.
type seqHandler struct {
	n     atomic.Int32
	reply func(n int, w http.ResponseWriter, r *http.Request)
}

func (h *seqHandler) serve(w http.ResponseWriter, r *http.Request) {
	h.reply(int(h.n.Add(1)-1), w, r)
}

// throttledOnce answers the first request 429 with the header pairs kv,
// every later one 202.
func throttledOnce(kv ...string) *seqHandler {
	return &seqHandler{reply: func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			for i := 0; i+1 < len(kv); i += 2 {
				w.Header().Set(kv[i], kv[i+1])
			}
			w.WriteHeader(429)
			return
		}
		w.WriteHeader(202)
	}}
}

// TestRetryAfter runs in a synctest bubble with an in-memory service, so
// the delays are exact and cost no real time.
func TestRetryAfter(t *testing.T) { onBothPaths(t, testRetryAfter) }

func testRetryAfter(t *testing.T) {
	t.Run("seconds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := throttledOnce("Retry-After", "1")
			start := time.Now()
			if err := sendToAll(memClient(t, h.serve, slowRetries())); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d != time.Second {
				t.Errorf("took %v, want the 1s Retry-After honoured", d)
			}
			if n := h.n.Load(); n != 2 {
				t.Errorf("%d tries, want 2", n)
			}
		})
	})
	t.Run("http date", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &seqHandler{reply: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 0 {
					w.Header().Set("Retry-After", time.Now().Add(2*time.Second).Format(http.TimeFormat))
					w.WriteHeader(503)
					return
				}
				w.WriteHeader(202)
			}}
			start := time.Now()
			if err := sendToAll(memClient(t, h.serve, slowRetries())); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < time.Second || d > 2*time.Second {
				t.Errorf("took %v, want the HTTP-date Retry-After (now+2s, whole seconds) honoured", d)
			}
		})
	})
	t.Run("beyond MaxRetryDelay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &seqHandler{reply: func(n int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(429)
			}}
			start := time.Now()
			err := sendToAll(memClient(t, h.serve, slowRetries()))
			if outcome(err) != "status 429" {
				t.Fatalf("err = %v, want status 429", err)
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("took %v; a Retry-After beyond MaxRetryDelay must return at once", d)
			}
			if n := h.n.Load(); n != 1 {
				t.Errorf("%d tries, want 1", n)
			}
		})
	})
	// retry-after-ms and x-ms-retry-after-ms are preferred to Retry-After,
	// as azcore reads them.
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"Retry-After-Ms", 300 * time.Millisecond},
		{"X-Ms-Retry-After-Ms", 400 * time.Millisecond},
	} {
		t.Run(tc.header, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := throttledOnce(tc.header, strconv.Itoa(int(tc.want/time.Millisecond)), "Retry-After", "2")
				start := time.Now()
				if err := sendToAll(memClient(t, h.serve, slowRetries())); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d != tc.want {
					t.Errorf("took %v, want the %v of %s", d, tc.want, tc.header)
				}
			})
		})
	}
}

// countingTransport returns a transport that counts dials and makes the
// connections of the first failWrites dials fail every write with ECONNRESET.
func countingTransport(dials *atomic.Int32, failWrites int32) *http.Transport {
	d := &net.Dialer{Timeout: time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			n := dials.Add(1)
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil || n > failWrites {
				return conn, err
			}
			return resetConn{conn}, nil
		},
	}
}

type resetConn struct{ net.Conn }

func (resetConn) Write([]byte) (int, error) { return 0, syscall.ECONNRESET }

func TestRetryConnectionRefused(t *testing.T) { onBothPaths(t, testRetryConnectionRefused) }

func testRetryConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close() // nothing listens: connection refused
	var dials atomic.Int32
	o := quietOptions()
	o.Transport = &http.Client{Transport: countingTransport(&dials, 0)}
	err = sendToAll(newTestClient(t, addr, o))
	var ce *signalr.ConnectionError
	if !errors.As(err, &ce) || ce.Kind != signalr.ConnectionUnreachable || ce.Written || outcome(err) != "unreachable" {
		t.Fatalf("err = %#v, want an unwritten *ConnectionError service.unreachable", err)
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("%d dials, want 3 (a refused send is safe to retry)", n)
	}
}

func TestRetryResetBeforeWritten(t *testing.T) { onBothPaths(t, testRetryResetBeforeWritten) }

func testRetryResetBeforeWritten(t *testing.T) {
	rec := newRecorder(t, statusSequence(202))
	var dials atomic.Int32
	o := quietOptions()
	o.Transport = &http.Client{Transport: countingTransport(&dials, 1)}
	if err := sendToAll(newTestClient(t, rec.srv.URL, o)); err != nil {
		t.Fatalf("send after a reset before writing: %v", err)
	}
	if d, n := dials.Load(), len(rec.requests()); d != 2 || n != 1 {
		t.Errorf("dials = %d, server requests = %d; want 2 and 1", d, n)
	}
}

// rawServer reads each whole request, counts it, and closes the connection
// without answering.
func rawServer(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	addr := testutil.ServeTCP(t, func(conn net.Conn) {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		if _, err := io.ReadAll(req.Body); err == nil {
			n.Add(1)
		}
	})
	return "http://" + addr, &n
}

func TestNoRetryAfterWritten(t *testing.T) { onBothPaths(t, testNoRetryAfterWritten) }

func testNoRetryAfterWritten(t *testing.T) {
	t.Run("send", func(t *testing.T) {
		addr, n := rawServer(t)
		err := sendToAll(newTestClient(t, addr, nil))
		var ce *signalr.ConnectionError
		if !errors.As(err, &ce) || !ce.Written || ce.Kind != signalr.ConnectionFailed || !signalr.IsOutcomeUnknown(err) {
			t.Fatalf("err = %#v, want a written *ConnectionError", err)
		}
		if got := n.Load(); got != 1 {
			t.Errorf("server received %d complete sends, want exactly 1", got)
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		addr, n := rawServer(t)
		if err := addToGroup(newTestClient(t, addr, nil)); err == nil {
			t.Fatal("want an error")
		}
		if got := n.Load(); got != 3 {
			t.Errorf("server received %d PUTs, want 3", got)
		}
	})
}

func TestTryTimeout(t *testing.T) { onBothPaths(t, testTryTimeout) }

func testTryTimeout(t *testing.T) {
	slow := func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}
	t.Run("send not retried", func(t *testing.T) {
		rec := newRecorder(t, slow)
		o := quietOptions()
		o.Retry.TryTimeout = 200 * time.Millisecond
		start := time.Now()
		err := sendToAll(newTestClient(t, rec.srv.URL, o))
		if outcome(err) != "timeout" {
			t.Fatalf("err = %v, want a timeout", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v, want about the 200ms try timeout", d)
		}
		if n := len(rec.requests()); n != 1 {
			t.Errorf("server saw %d sends, want 1", n)
		}
	})
	// The next two run in a synctest bubble with an in-memory service: no
	// request is written on a wire there, so they cover only what does not
	// depend on it (an idempotent call is retried after a timeout anyway).
	t.Run("idempotent retried within the budget", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &seqHandler{reply: slow}
			o := quietOptions()
			o.Retry.TryTimeout = 300 * time.Millisecond
			o.Retry.MaxRetries = 9
			o.RetryBudget = 700 * time.Millisecond
			start := time.Now()
			err := addToGroup(memClient(t, h.serve, o))
			d := time.Since(start)
			if outcome(err) != "timeout" {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if d != 700*time.Millisecond {
				t.Errorf("took %v, want the 700ms budget to bound the call", d)
			}
			if n := h.n.Load(); n < 2 || n > 3 {
				t.Errorf("server saw %d tries, want 2 or 3 within the budget", n)
			}
		})
	})
	t.Run("caller deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := &seqHandler{reply: slow}
			c := memClient(t, h.serve, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			_, err := c.AddConnectionToGroup(ctx, "chat", "g", "c1", nil)
			if !errors.Is(err, context.DeadlineExceeded) || outcome(err) != "timeout" {
				t.Fatalf("err = %v", err)
			}
			if n := h.n.Load(); n != 1 {
				t.Errorf("%d tries after the caller's deadline, want 1", n)
			}
		})
	})
}

// memClient returns a client whose requests h answers in memory, for
// tests inside a synctest bubble.
func memClient(t *testing.T, h http.HandlerFunc, o *signalr.ClientOptions) *signalr.Client {
	t.Helper()
	if o == nil {
		o = quietOptions()
	}
	o.Transport = testutil.HandlerTransport{H: h}
	c, err := signalr.NewClientFromConnectionString("Endpoint=http://127.0.0.1;Port=1;AccessKey="+testKey+";Version=1.0;", onPath(o))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// switchable answers 500 while fail is set, else 202, and counts requests.
type switchable struct {
	fail atomic.Bool
	n    atomic.Int32
}

func (s *switchable) serve(w http.ResponseWriter, _ *http.Request) {
	s.n.Add(1)
	if s.fail.Load() {
		w.WriteHeader(500)
		return
	}
	w.WriteHeader(202)
}

func TestBreaker(t *testing.T) { onBothPaths(t, testBreaker) }

func testBreaker(t *testing.T) {
	// A synctest bubble: each time.Sleep below moves the fake clock past a
	// breaker deadline at once (no real wait, nothing to race with).
	synctest.Test(t, func(t *testing.T) {
		svc := &switchable{}
		svc.fail.Store(true)
		o := quietOptions()
		o.Breaker = signalr.BreakerOptions{Failures: 3, OpenTimeout: 300 * time.Millisecond, MaxOpenTimeout: time.Second}
		c := memClient(t, svc.serve, o)
		for i := range 3 {
			if err := sendToAll(c); outcome(err) != "status 500" {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if s := c.BreakerState(); s != signalr.BreakerOpen {
			t.Fatalf("state after 3 failures = %s, want open", s)
		}
		start := time.Now()
		err := sendToAll(c)
		var co *signalr.CircuitOpenError
		if !errors.As(err, &co) || outcome(err) != "circuit open" || co.Operation != "SendToAll" || co.State != signalr.BreakerOpen {
			t.Fatalf("err = %v, want *CircuitOpenError", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("open breaker took %v to answer", d)
		}
		if n := svc.n.Load(); n != 3 {
			t.Errorf("server saw %d requests, want 3 (none while open)", n)
		}

		// Half-open after OpenTimeout: a failing probe opens it again, for
		// twice as long.
		time.Sleep(300 * time.Millisecond)
		if s := c.BreakerState(); s != signalr.BreakerHalfOpen {
			t.Fatalf("state after OpenTimeout = %s, want half-open", s)
		}
		if err := sendToAll(c); outcome(err) != "status 500" {
			t.Fatalf("probe: %v", err)
		}
		if s := c.BreakerState(); s != signalr.BreakerOpen {
			t.Fatalf("state after a failed probe = %s, want open", s)
		}
		time.Sleep(300 * time.Millisecond)
		if s := c.BreakerState(); s != signalr.BreakerOpen {
			t.Fatalf("state 300ms after a failed probe = %s, want still open (600ms)", s)
		}
		time.Sleep(300 * time.Millisecond)
		if s := c.BreakerState(); s != signalr.BreakerHalfOpen {
			t.Fatalf("state 600ms after a failed probe = %s, want half-open", s)
		}
		// Failed probes grow the open time up to MaxOpenTimeout (1s).
		sendToAll(c) // open 1.2s → capped at 1s
		time.Sleep(time.Second)
		if s := c.BreakerState(); s != signalr.BreakerHalfOpen {
			t.Fatalf("state after MaxOpenTimeout = %s, want half-open", s)
		}
		// Half-open: a good probe closes it.
		svc.fail.Store(false)
		if err := sendToAll(c); err != nil {
			t.Fatalf("probe: %v", err)
		}
		if s := c.BreakerState(); s != signalr.BreakerClosed {
			t.Errorf("state after a good probe = %s, want closed", s)
		}
	})
}

// TestBreakerHealthProbeCloses: Health reaches the service while the
// breaker is open, and its success closes it at once.
func TestBreakerHealthProbeCloses(t *testing.T) { onBothPaths(t, testBreakerHealthProbeCloses) }

func testBreakerHealthProbeCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &switchable{}
		svc.fail.Store(true)
		o := quietOptions()
		o.Breaker = signalr.BreakerOptions{Failures: 1, OpenTimeout: time.Hour, MaxOpenTimeout: time.Hour}
		c := memClient(t, svc.serve, o)
		sendToAll(c)
		if s := c.BreakerState(); s != signalr.BreakerOpen {
			t.Fatalf("state = %s, want open", s)
		}
		if _, err := c.Health(t.Context(), nil); outcome(err) != "status 500" {
			t.Fatalf("Health of a failing service while open = %v, want its 500", err)
		}
		if s := c.BreakerState(); s != signalr.BreakerOpen {
			t.Fatalf("state after a failed probe = %s, want open", s)
		}
		svc.fail.Store(false)
		if _, err := c.Health(t.Context(), nil); err != nil {
			t.Fatalf("Health = %v", err)
		}
		if s := c.BreakerState(); s != signalr.BreakerClosed {
			t.Fatalf("state after a good health probe = %s, want closed", s)
		}
		if err := sendToAll(c); err != nil {
			t.Fatalf("send after the probe closed the breaker: %v", err)
		}
	})
}

// TestBreakerRecoversWithin5s: after a long outage (the open time at its
// default cap), sends resume within 5 s of the service's recovery with no
// health probe at all.
func TestBreakerRecoversWithin5s(t *testing.T) { onBothPaths(t, testBreakerRecoversWithin5s) }

func testBreakerRecoversWithin5s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &switchable{}
		svc.fail.Store(true)
		o := quietOptions()
		o.Breaker = signalr.BreakerOptions{} // defaults
		c := memClient(t, svc.serve, o)
		// time.Sleep advances the bubble's fake clock: a minute of sends
		// takes no real time.
		tick := func() error { time.Sleep(100 * time.Millisecond); return sendToAll(c) }
		for range 600 { // a minute of failing sends
			tick()
		}
		if s := c.BreakerState(); s == signalr.BreakerClosed {
			t.Fatalf("breaker %s after a minute of failures", s)
		}
		svc.fail.Store(false)
		recovered := time.Now()
		for tick() != nil {
			if time.Since(recovered) > time.Minute {
				t.Fatal("sends never resumed")
			}
		}
		if d := time.Since(recovered); d > 5*time.Second {
			t.Errorf("sends resumed %v after the service recovered, want within 5s", d)
		}
	})
}

func TestBreakerIgnores4xx(t *testing.T) { onBothPaths(t, testBreakerIgnores4xx) }

func testBreakerIgnores4xx(t *testing.T) {
	rec := newRecorder(t, statusSequence(400))
	o := quietOptions()
	o.Breaker = signalr.BreakerOptions{Failures: 2}
	c := newTestClient(t, rec.srv.URL, o)
	for range 5 {
		if err := sendToAll(c); outcome(err) != "status 400" {
			t.Fatal(err)
		}
	}
	if s := c.BreakerState(); s != signalr.BreakerClosed {
		t.Errorf("state after 4xx = %s, want closed", s)
	}
}

func TestBreakerCountsConnectionFailures(t *testing.T) {
	onBothPaths(t, testBreakerCountsConnectionFailures)
}

func testBreakerCountsConnectionFailures(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := "http://" + l.Addr().String()
	l.Close()
	o := quietOptions()
	o.Breaker = signalr.BreakerOptions{Failures: 3}
	c := newTestClient(t, addr, o)
	sendToAll(c) // three refused tries
	if s := c.BreakerState(); s != signalr.BreakerOpen {
		t.Errorf("state after 3 refused connections = %s, want open", s)
	}
}

func TestTLSMinimum(t *testing.T) { onBothPaths(t, testTLSMinimum) }

func testTLSMinimum(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) }))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	weak := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10}}

	// Control: the server does speak TLS 1.1 to a client that allows it.
	resp, err := (&http.Client{Transport: weak, Timeout: 5 * time.Second}).Get(srv.URL)
	if err != nil {
		t.Skipf("this Go build cannot speak TLS 1.1 at all: %v", err)
	}
	resp.Body.Close()
	if resp.TLS.Version != tls.VersionTLS11 {
		t.Fatalf("control negotiated %x", resp.TLS.Version)
	}

	for name, o := range map[string]func(*signalr.ClientOptions){
		"caller transport": func(o *signalr.ClientOptions) { o.Transport = &http.Client{Transport: weak} },
		"default transport": func(o *signalr.ClientOptions) {
			o.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10}
		},
	} {
		opts := quietOptions()
		o(opts)
		err := sendToAll(newTestClient(t, srv.URL, opts))
		var ce *signalr.ConnectionError
		if !errors.As(err, &ce) || ce.Kind != signalr.ConnectionTLS {
			t.Errorf("%s: err = %v, want a TLS *ConnectionError", name, err)
		}
	}
}

func TestTLS12Works(t *testing.T) { onBothPaths(t, testTLS12Works) }

func testTLS12Works(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.TLS.Version < tls.VersionTLS12 {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(202)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	o := quietOptions()
	o.TLSConfig = &tls.Config{RootCAs: pool}
	if err := sendToAll(newTestClient(t, srv.URL, o)); err != nil {
		t.Fatal(err)
	}
}
