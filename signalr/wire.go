package signalr

import (
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// Whether a request reached the wire. The retry rule never retries a send
// that may have reached the service, so it must know whether any byte of
// the request left the client. httptrace's WroteRequest alone does not
// say so: for a body net/http knows to be in memory it buffers the whole
// request and reports it written before flushing it to the connection. On
// the transports the client builds itself (its HTTP/1.1 transport, h1.go;
// net/http's, under a proxy; a caller's cloned *http.Transport), every
// connection is therefore a wireConn that
// counts the bytes the operating system accepted, and a try compares the
// count of its connection (httptrace's GotConn) before and after: no byte
// accepted means nothing was sent, whatever WroteRequest said. Such a
// request can then go out in one write (headers and body together), one
// wake-up of the service per request instead of two. On any other
// transport the body is a type net/http does not know (requestBody), so it
// flushes the headers first and WroteRequest means the whole request left.
// With HTTP/2 several requests share a connection, so another stream's
// bytes make a failed request count as written: the safe side.

// wireConn counts the bytes written to a connection.
type wireConn struct {
	net.Conn
	written atomic.Int64
}

func (c *wireConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.written.Add(int64(n))
	}
	return n, err
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// countWrites makes every connection ht dials a wireConn.
func countWrites(ht *http.Transport) {
	wrap := func(d dialFunc) dialFunc {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &wireConn{Conn: c}, nil
		}
	}
	//lint:ignore SA1019 a caller's transport may still set the deprecated Dial and DialTLS
	dial, dialTLS := ht.Dial, ht.DialTLS
	if ht.DialTLSContext == nil && dialTLS != nil {
		ht.DialTLSContext = func(_ context.Context, network, addr string) (net.Conn, error) { return dialTLS(network, addr) }
	}
	if ht.DialTLSContext != nil {
		ht.DialTLSContext = wrap(ht.DialTLSContext)
	}
	switch {
	case ht.DialContext != nil:
	case dial != nil:
		ht.DialContext = func(_ context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) }
	default:
		ht.DialContext = (&net.Dialer{}).DialContext
	}
	ht.DialContext = wrap(ht.DialContext)
}

// wireConnOf returns the wireConn under c (through TLS), or nil.
func wireConnOf(c net.Conn) *wireConn {
	for range 4 {
		switch v := c.(type) {
		case *wireConn:
			return v
		case interface{ NetConn() net.Conn }: // *tls.Conn
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// gotConn notes the try's connection and its count so far.
func (s *tryState) gotConn(i httptrace.GotConnInfo) {
	if wc := wireConnOf(i.Conn); wc != nil {
		s.mu.Lock()
		s.conn, s.before = wc, wc.written.Load()
		s.mu.Unlock()
	}
}

// written reports whether the try's request may have reached the peer:
// net/http reported it written and, when its connection counts bytes, at
// least one byte was accepted since the try got it. s.mu is held.
func (s *tryState) written() bool {
	if !s.wrote {
		return false
	}
	return s.conn == nil || s.conn.written.Load() > s.before
}
