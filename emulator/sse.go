package emulator

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// maxKeptEventBuffer is the largest encoding buffer an SSE connection keeps
// between writes.
const maxKeptEventBuffer = 64 << 10

// serveSSE holds the event stream of hc open and runs the connection's
// writer on it until the client goes away or the connection closes.
func (e *Emulator) serveSSE(w http.ResponseWriter, r *http.Request, hc *httpConn) {
	defer e.wg.Done()
	defer e.endHTTPConn(hc)
	rc := http.NewResponseController(w)
	// The stream lives as long as the connection: no server write timeout
	// applies (each write is bounded by the writer instead).
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	// A comment line sends the headers now: EventSource reports the
	// connection open (and the client sends its handshake) when they arrive.
	if _, err := io.WriteString(w, ":\r\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	hc.sse.w, hc.sse.rc = w, rc
	hc.c.writeLoop(r.Context(), e.pingInterval, e.clientTimeout)
}

// sseSink writes records as events of a text/event-stream response. It is
// used by the connection's writer goroutine only (the handler goroutine).
type sseSink struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
}

func (s *sseSink) write(ctx context.Context, b []byte) error {
	s.buf = appendEvent(s.buf[:0], b)
	return s.flush(ctx)
}

func (s *sseSink) writer(ctx context.Context) (io.WriteCloser, error) {
	s.buf = s.buf[:0]
	return &sseBatch{s: s, ctx: ctx}, nil
}

// end does nothing: the stream ends when the handler returns.
func (s *sseSink) end(websocket.StatusCode) {}

// kill makes the stream's connection fail its next write; the handler
// returns right after.
func (s *sseSink) kill() {
	if s.rc != nil {
		_ = s.rc.SetWriteDeadline(time.Unix(1, 0))
	}
}

// flush writes the encoded events and flushes them to the client. When ctx
// ends first (write timeout, or a slow consumer being dropped) the write
// deadline is moved to the past so the blocked write returns.
func (s *sseSink) flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.kill)
	_, err := s.w.Write(s.buf)
	if err == nil {
		err = s.rc.Flush()
	}
	if !stop() && err == nil {
		err = context.Cause(ctx)
	}
	if cap(s.buf) > maxKeptEventBuffer {
		s.buf = nil
	}
	return err
}

// sseBatch encodes each Write (whole records) as one event; Close flushes.
type sseBatch struct {
	s   *sseSink
	ctx context.Context
}

func (b *sseBatch) Write(p []byte) (int, error) {
	b.s.buf = appendEvent(b.s.buf, p)
	return len(p), nil
}

func (b *sseBatch) Close() error { return b.s.flush(b.ctx) }

// appendEvent appends rec as one Server-Sent Event: every line of rec
// (lines end at CRLF, LF or CR, as the event-stream format defines) becomes
// a "data: " line, and an empty line ends the event. EventSource joins the
// data lines with LF, so the client gets rec back with CR and CRLF turned
// into LF; a record of the JSON hub protocol only has line breaks as JSON
// whitespace, where this changes nothing.
func appendEvent(dst, rec []byte) []byte {
	for {
		i := bytes.IndexAny(rec, "\r\n")
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, rec...)
			dst = append(dst, '\n')
			break
		}
		dst = append(dst, rec[:i]...)
		dst = append(dst, '\n')
		if rec[i] == '\r' && i+1 < len(rec) && rec[i+1] == '\n' {
			i++
		}
		rec = rec[i+1:]
	}
	return append(dst, '\n')
}
