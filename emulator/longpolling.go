package emulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// DefaultPollTimeout is how long a long poll waits for messages before it
// answers 200 with no content (ASP.NET Core's default; the JS client gives
// up on a poll after 100 s).
const DefaultPollTimeout = 90 * time.Second

// errConnectionEnded is a write to a long-polling connection that has ended.
var errConnectionEnded = errors.New("the long-polling connection has ended")

// runLongPolling runs the writer of a long-polling connection until it
// closes, the client DELETEs it, or the client has had no poll outstanding
// for twice the poll timeout (it is then considered gone).
func (e *Emulator) runLongPolling(hc *httpConn) {
	defer e.wg.Done()
	defer e.endHTTPConn(hc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := hc.lp
	gone := 2 * e.pollTimeout
	go func() {
		check := time.NewTicker(max(gone/8, 10*time.Millisecond))
		defer check.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.done:
				cancel()
				return
			case now := <-check.C:
				if idle := s.idle(now); idle > gone {
					e.log.Debug("emulator: long-polling client gone", "connectionId", hc.c.id, "idle", idle)
					s.stop()
					cancel()
					return
				}
			}
		}
	}()
	// No pings: a long-polling connection keeps itself alive (the client
	// neither expects nor sends them).
	// No client timeout either: the client does not ping on long polling
	// (it is gone when it stops polling, see above).
	hc.c.writeLoop(ctx, 0, 0)
}

// pollSink hands each unit the writer produces to one waiting poll. The
// writer blocks until a poll takes the unit (bounded by its write
// timeout), so records wait in the connection's bounded queue, not here.
type pollSink struct {
	handoff chan []byte   // unbuffered: writer → a waiting poll
	done    chan struct{} // closed when the connection ends: polls get 204
	once    sync.Once

	mu       sync.Mutex
	waiting  int           // polls outstanding
	lastPoll time.Time     // when the last poll ended (or the connection began)
	current  chan struct{} // closed to supersede the outstanding poll
}

func newPollSink() *pollSink {
	return &pollSink{handoff: make(chan []byte), done: make(chan struct{}), lastPoll: time.Now()}
}

func (s *pollSink) write(ctx context.Context, b []byte) error {
	select {
	case s.handoff <- b:
		return nil
	case <-s.done:
		return errConnectionEnded
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (s *pollSink) writer(ctx context.Context) (io.WriteCloser, error) {
	return &pollBatch{s: s, ctx: ctx}, nil
}

// end makes current and later polls answer 204 (the connection is over).
func (s *pollSink) end(websocket.StatusCode) { s.stop() }

func (s *pollSink) kill() { s.stop() }

func (s *pollSink) stop() { s.once.Do(func() { close(s.done) }) }

// idle reports how long no poll has been outstanding (0 while one is).
func (s *pollSink) idle(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting > 0 {
		return 0
	}
	return now.Sub(s.lastPoll)
}

// poll serves one long poll: 200 with the next unit of records as soon as
// there is one, 200 empty after timeout, 204 once the connection has ended
// or when a newer poll of the same connection supersedes this one.
func (s *pollSink) poll(w http.ResponseWriter, r *http.Request, timeout time.Duration) {
	mine := make(chan struct{})
	s.mu.Lock()
	if s.current != nil {
		close(s.current)
	}
	s.current = mine
	s.waiting++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.waiting--
		if s.current == mine {
			s.current = nil
		}
		s.lastPoll = time.Now()
		s.mu.Unlock()
	}()
	// The poll may outlive a server write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + writeTimeout))
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case b := <-s.handoff:
		writePoll(w, b)
	case <-s.done:
		w.WriteHeader(http.StatusNoContent)
	case <-mine:
		w.WriteHeader(http.StatusNoContent)
	case <-timer.C:
		writePoll(w, nil)
	case <-r.Context().Done():
	}
}

// writePoll answers a poll with 200 and b (no content when b is empty).
func writePoll(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// pollBatch gathers several records into one poll answer.
type pollBatch struct {
	s   *pollSink
	ctx context.Context
	buf bytes.Buffer
}

func (b *pollBatch) Write(p []byte) (int, error) { return b.buf.Write(p) }

func (b *pollBatch) Close() error { return b.s.write(b.ctx, b.buf.Bytes()) }
