package signalr

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"testing"
)

func TestWireConnCountsAcceptedBytes(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go io.Copy(io.Discard, b)
	wc := &wireConn{Conn: a}
	if n, err := wc.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	a.Close()
	if _, err := wc.Write([]byte("lost")); err == nil {
		t.Fatal("write on a closed pipe succeeded")
	}
	if got := wc.written.Load(); got != 5 {
		t.Fatalf("written = %d, want 5 (a failed write adds nothing)", got)
	}
	// Under TLS the try finds the counting connection through NetConn.
	if wireConnOf(tls.Client(wc, &tls.Config{})) != wc || wireConnOf(wc) != wc || wireConnOf(a) != nil {
		t.Fatal("wireConnOf does not find the wireConn")
	}
}

func TestWrittenNeedsAcceptedBytes(t *testing.T) {
	wc := &wireConn{}
	wc.written.Store(100)
	ts := newTryState(false)
	ts.trace.GotConn(httptrace.GotConnInfo{Conn: wc})
	ts.trace.WroteRequest(httptrace.WroteRequestInfo{})
	if ts.written() {
		t.Fatal("a request reported written with no byte accepted since the try got its connection counts as written")
	}
	wc.written.Add(1)
	if !ts.written() {
		t.Fatal("a request with accepted bytes does not count as written")
	}
	other := newTryState(false) // a connection that does not count: WroteRequest decides
	other.trace.WroteRequest(httptrace.WroteRequestInfo{})
	if !other.written() {
		t.Fatal("WroteRequest alone does not count without a counting connection")
	}
}

func TestTransporterCountsOnlyItsOwnTransports(t *testing.T) {
	for name, tc := range map[string]struct {
		t    any
		want bool
	}{
		"default":               {nil, true},
		"caller http.Transport": {&http.Client{Transport: &http.Transport{}}, true},
		"caller RoundTripper":   {&http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, io.EOF })}, false},
	} {
		endpoint := &url.URL{Scheme: "http", Host: "127.0.0.1:8888"}
		var tr, counted, err = transporter(nil, nil, endpoint)
		if tc.t != nil {
			tr, counted, err = transporter(tc.t.(*http.Client), nil, endpoint)
		}
		if err != nil || tr == nil || counted != tc.want {
			t.Errorf("%s: counted %v, want %v (%v)", name, counted, tc.want, err)
		}
	}
	// The default is the client's own HTTP/1.1 transport, unless the
	// environment names a proxy for the endpoint.
	endpoint := &url.URL{Scheme: "https", Host: "example.service.signalr.net"}
	if tr, _, _ := transporter(nil, nil, endpoint); !isH1(tr) {
		t.Fatalf("default transport %T is not the HTTP/1.1 one", tr.(*limitedDoer).t)
	}
	defer func(f func(*http.Request) (*url.URL, error)) { proxyFor = f }(proxyFor)
	proxyFor = func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.example:3128") }
	tr, counted, _ := transporter(nil, nil, endpoint)
	if isH1(tr) || !counted {
		t.Fatalf("with a proxy: %T (counted %v), want net/http's transport, counting", tr.(*limitedDoer).t, counted)
	}
	if hc, ok := tr.(*limitedDoer).t.(*http.Client); !ok || hc.Transport.(*http.Transport).Proxy == nil {
		t.Fatal("with a proxy, the net/http transport does not use it")
	}

	// One write: net/http sends a body it knows to be in memory together
	// with the headers; a requestBody makes it flush the headers first.
	one, _ := bodyOf([]byte("x"), true)()
	two, _ := bodyOf([]byte("x"), false)()
	if _, ok := two.(*requestBody); !ok {
		t.Fatalf("body for an uncounted transport is %T", two)
	}
	if _, ok := one.(*requestBody); ok {
		t.Fatal("body for a counted transport is a requestBody")
	}
	if b, _ := io.ReadAll(one); !bytes.Equal(b, []byte("x")) {
		t.Fatalf("body %q", b)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func isH1(tr any) bool {
	ld, ok := tr.(*limitedDoer)
	if !ok {
		return false
	}
	_, ok = ld.t.(*h1Transport)
	return ok
}
