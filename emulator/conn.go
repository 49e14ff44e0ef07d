package emulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// writeTimeout bounds one frame write; a client that cannot take a frame in
// this time is dropped.
const writeTimeout = 10 * time.Second

// closeWriteTimeout bounds the final Close record write.
const closeWriteTimeout = time.Second

// maxBatchBytes caps how many queued records one frame carries.
const maxBatchBytes = 64 << 10

// sink is the transport side of a connection: where its single writer puts
// records (a WebSocket, a Server-Sent Events stream or a long-polling
// outbox). Only the writer goroutine calls write, writer and end; kill may be
// called from any goroutine, and must make a blocked write return: that is
// how a write that exceeds its timeout ends (conn.writeWithin).
type sink interface {
	// write sends b (whole records) as one unit: a frame, an event, a poll
	// answer. It returns early when ctx ends (the writer stops).
	write(ctx context.Context, b []byte) error
	// writer returns a writer for one unit made of several records; each
	// Write carries whole records, Close sends the unit.
	writer(ctx context.Context) (io.WriteCloser, error)
	// end finishes the transport after the last record (the WebSocket close
	// handshake, the end of the event stream, 204 to polls).
	end(status websocket.StatusCode)
	// kill tears the transport down at once.
	kill()
}

// conn is one client connection. Exactly one goroutine (writeLoop) writes to
// out; everybody else hands it records through queue, which never blocks: a
// full queue disconnects the connection as a slow consumer.
type conn struct {
	id   string
	hub  string
	user string
	// proto is the hub protocol of the handshake. It is set before the
	// handshake response is queued and never changes after.
	proto protocol
	out   sink
	log   *slog.Logger

	queue   chan *outMessage
	closing chan struct{}
	once    sync.Once
	reason  string // Close message error text; set before closing is closed
	drain   bool   // flush the queue before the Close message
	// reconnect sets allowReconnect in the Close message (graceful
	// shutdown: the client may come back).
	reconnect bool
	status    websocket.StatusCode
	// final replaces the Close message when finalSet (nil: write nothing),
	// for handshake failures on the HTTP transports.
	final    []byte
	finalSet bool
	// abort cancels in-flight writes when a close must not wait for the
	// client (slow consumer).
	abortCtx context.Context
	abort    context.CancelFunc
	// wd bounds every write: armed for its duration, it kills wdSink (the
	// sink it was made for) when the write takes too long. Only the writer
	// goroutine uses them (see armWatchdog).
	wd     *time.Timer
	wdSink sink

	// groups is guarded by Emulator.mu.
	groups map[string]struct{}

	// lastRead is when data last came from the client (Unix nanoseconds),
	// for the client timeout.
	lastRead atomic.Int64

	// done is closed when the connection is over (see markDone).
	done     chan struct{}
	doneOnce sync.Once

	// invMu guards the server-to-client invocations awaiting a Completion.
	invMu   sync.Mutex
	waiters map[string]chan clientMessage

	// Stateful reconnect (statefulreconnect.go); stateful and token are set
	// before the connection is shared.
	stateful    bool
	token       string // the connection token a resume presents
	replayLimit int
	srMu        sync.Mutex // guards the fields below
	srState     int
	srChanged   chan struct{} // closed and replaced on every srState change
	ws          *websocket.Conn
	sentSeq     int64 // id of the last sequenced message written
	replay      []replayItem
	replayBytes int
	recvSeq     int64 // highest id of a client message processed
	recvNext    int64 // id of the next client message
}

func newConn(id, hubKey, user string, out sink, queueSize int, log *slog.Logger) *conn {
	abortCtx, abort := context.WithCancel(context.Background())
	return &conn{
		abortCtx:  abortCtx,
		abort:     abort,
		id:        id,
		hub:       hubKey,
		user:      user,
		out:       out,
		log:       log,
		queue:     make(chan *outMessage, queueSize),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
		srChanged: make(chan struct{}),
		recvNext:  1,
	}
}

// markDone records that the connection is over: invocations waiting for its
// completions give up.
func (c *conn) markDone() {
	c.doneOnce.Do(func() {
		close(c.done)
		c.abort()
	})
}

// enqueue hands b to the writer without blocking. It reports false if the
// connection is closing or its queue is full (which starts closing it).
func (c *conn) enqueue(b *outMessage) bool {
	select {
	case <-c.closing:
		return false
	default:
	}
	select {
	case c.queue <- b:
		return true
	default:
		c.log.Warn("emulator: disconnecting slow consumer", "connectionId", c.id, "queue", cap(c.queue))
		c.requestClose("slow consumer: the client did not read messages fast enough and its send queue is full", false, websocket.StatusPolicyViolation)
		// The client is not reading: do not wait for the write in flight.
		c.abort()
		return false
	}
}

// requestClose asks the writer to send a Close message with reason and close
// the WebSocket. Only the first call counts.
func (c *conn) requestClose(reason string, drain bool, status websocket.StatusCode) {
	c.once.Do(func() {
		c.reason = reason
		c.drain = drain
		c.status = status
		close(c.closing)
	})
}

// requestShutdownClose is requestClose for a graceful shutdown: the queue
// is flushed and the Close message carries allowReconnect, so clients with
// automatic reconnect come back once the emulator runs again.
func (c *conn) requestShutdownClose(reason string) {
	c.once.Do(func() {
		c.reason = reason
		c.drain = true
		c.reconnect = true
		c.status = websocket.StatusGoingAway
		close(c.closing)
	})
}

// requestCloseFinal is requestClose with final written instead of a Close
// message (nil: nothing), without flushing the queue.
func (c *conn) requestCloseFinal(final []byte) {
	c.once.Do(func() {
		c.final = final
		c.finalSet = true
		c.status = websocket.StatusPolicyViolation
		close(c.closing)
	})
}

// touch records that data came from the client now.
func (c *conn) touch() { c.lastRead.Store(time.Now().UnixNano()) }

// clientTimeoutReason is the Close error of a client that sent nothing for
// the client timeout d.
func clientTimeoutReason(d time.Duration) string {
	return fmt.Sprintf("client timeout: the client sent nothing (not even a ping) for %v, so the connection was closed; clients ping every 15 s by default (keepAliveIntervalInMilliseconds), which must stay well below the server's client timeout (the emulator's -client-timeout, 30 s like the service)", d)
}

// writeLoop is the single writer. It returns when ctx ends (the reader saw
// the socket close) or after it has closed the socket itself. A zero
// pingInterval sends no pings (long polling keeps itself alive); a zero
// clientTimeout never closes a silent client.
func (c *conn) writeLoop(parent context.Context, pingInterval, clientTimeout time.Duration) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	// An abort ends the write in flight by killing the transport (a
	// WebSocket write does not watch ctx, see wsSink).
	out := c.out
	defer context.AfterFunc(c.abortCtx, func() {
		cancel()
		out.kill()
	})()
	var tick <-chan time.Time
	if pingInterval > 0 {
		ticker := time.NewTicker(pingInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
	var silence *time.Timer
	var silent <-chan time.Time
	if clientTimeout > 0 {
		c.touch()
		silence = time.NewTimer(clientTimeout)
		defer silence.Stop()
		silent = silence.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-c.queue:
			if err := c.writeBatch(ctx, b); err != nil {
				c.log.Debug("emulator: write failed", "connectionId", c.id, "err", err)
				c.out.kill()
				return
			}
		case <-tick:
			if err := c.write(ctx, pingMessage.encode(c.proto)); err != nil {
				c.out.kill()
				return
			}
		case <-silent:
			idle := time.Since(time.Unix(0, c.lastRead.Load()))
			if idle < clientTimeout {
				silence.Reset(clientTimeout - idle)
				continue
			}
			c.log.Debug("emulator: client timeout", "connectionId", c.id, "idle", idle)
			c.requestClose(clientTimeoutReason(clientTimeout), false, websocket.StatusPolicyViolation)
		case <-c.closing:
			c.finish(ctx)
			return
		}
	}
}

// finish flushes (when asked), sends the Close message and closes.
func (c *conn) finish(ctx context.Context) {
	if c.drain {
		for {
			select {
			case b := <-c.queue:
				if err := c.writeBatch(ctx, b); err != nil {
					c.out.kill()
					return
				}
				continue
			default:
			}
			break
		}
	}
	last := newClose(c.reason, c.reconnect).encode(c.proto)
	if c.finalSet {
		last = c.final
	}
	if last != nil {
		if err := c.writeWithin(ctx, closeWriteTimeout, last); err != nil {
			c.out.kill()
			return
		}
	}
	status := c.status
	if status == 0 {
		status = websocket.StatusNormalClosure
	}
	c.out.end(status)
}

// record returns the framed record of m for c, numbering it for replay on a
// stateful connection.
func (c *conn) record(m *outMessage) []byte {
	b := m.encode(c.proto)
	if c.stateful && m.sequenced() {
		c.track(b)
	}
	return b
}

// write sends b as one unit within writeTimeout.
func (c *conn) write(ctx context.Context, b []byte) error {
	return c.writeWithin(ctx, writeTimeout, b)
}

// writeWithin sends b as one unit; a write that takes longer than d is
// ended by killing the transport (what a deadline on ctx did, without a
// context, a timer and their registration per write: one timer per
// connection, re-armed).
func (c *conn) writeWithin(ctx context.Context, d time.Duration, b []byte) error {
	defer c.armWatchdog(d).Stop()
	return c.out.write(ctx, b)
}

// armWatchdog starts, for a write that may take d, the timer that kills
// the current sink when it fires; the caller stops it when the write is
// over. A connection's sink changes only while no writer runs (a resumed
// stateful connection gets a new WebSocket), so the writer goroutine makes
// a timer for each sink it writes to; a timer that fires late kills the
// sink it was made for, never a newer one.
func (c *conn) armWatchdog(d time.Duration) *time.Timer {
	if c.wd == nil || c.wdSink != c.out {
		if c.wd != nil {
			c.wd.Stop()
		}
		c.wd, c.wdSink = time.AfterFunc(d, c.out.kill), c.out
		return c.wd
	}
	c.wd.Reset(d)
	return c.wd
}

// writeBatch writes first plus whatever else is already queued (up to
// maxBatchBytes) as one unit (a frame, an event, a poll answer): several
// records per unit are allowed.
func (c *conn) writeBatch(ctx context.Context, first *outMessage) error {
	// Every message taken from the queue is numbered for replay before
	// anything can fail, so a stateful connection loses none.
	b := c.record(first)
	if len(c.queue) == 0 {
		return c.write(ctx, b)
	}
	defer c.armWatchdog(writeTimeout).Stop()
	w, err := c.out.writer(ctx)
	if err != nil {
		return err
	}
	n := 0
	for {
		if _, err := w.Write(b); err != nil {
			return err
		}
		n += len(b)
		if n >= maxBatchBytes {
			break
		}
		select {
		case m := <-c.queue:
			b = c.record(m)
			continue
		default:
		}
		break
	}
	return w.Close()
}

// wsSink is the WebSocket transport; typ is the frame type of the
// connection's protocol.
//
// Its writes do not hand ctx to the WebSocket library, which would arm and
// disarm a callback on it for every frame: the socket is killed instead
// when a write must end early, by the write timeout (conn.writeWithin), an
// abort (writeLoop) or the end of the socket's writer context (runSocket).
type wsSink struct {
	ws  *websocket.Conn
	typ websocket.MessageType
}

func (s wsSink) write(_ context.Context, b []byte) error {
	return s.ws.Write(context.Background(), s.typ, b)
}

func (s wsSink) writer(context.Context) (io.WriteCloser, error) {
	return s.ws.Writer(context.Background(), s.typ)
}

// end waits (bounded by the library) for the client's close frame, which
// the reader goroutine consumes.
func (s wsSink) end(status websocket.StatusCode) { _ = s.ws.Close(status, "") }

func (s wsSink) kill() { s.ws.CloseNow() }
