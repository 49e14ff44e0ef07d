package emulator

import (
	"context"
	"log/slog"
	"sync"
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

// conn is one client connection. Exactly one goroutine (writeLoop) writes to
// ws; everybody else hands it records through queue, which never blocks: a
// full queue disconnects the connection as a slow consumer.
type conn struct {
	id   string
	hub  string
	user string
	ws   *websocket.Conn
	log  *slog.Logger

	queue   chan []byte
	closing chan struct{}
	once    sync.Once
	reason  string // Close message error text; set before closing is closed
	drain   bool   // flush the queue before the Close message
	status  websocket.StatusCode
	// abort cancels in-flight writes when a close must not wait for the
	// client (slow consumer).
	abortCtx context.Context
	abort    context.CancelFunc

	// groups is guarded by Emulator.mu.
	groups map[string]struct{}
}

func newConn(id, hubKey, user string, ws *websocket.Conn, queueSize int, log *slog.Logger) *conn {
	abortCtx, abort := context.WithCancel(context.Background())
	return &conn{
		abortCtx: abortCtx,
		abort:    abort,
		id:       id,
		hub:      hubKey,
		user:     user,
		ws:       ws,
		log:      log,
		queue:    make(chan []byte, queueSize),
		closing:  make(chan struct{}),
	}
}

// enqueue hands b to the writer without blocking. It reports false if the
// connection is closing or its queue is full (which starts closing it).
func (c *conn) enqueue(b []byte) bool {
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

// writeLoop is the single writer. It returns when ctx ends (the reader saw
// the socket close) or after it has closed the socket itself.
func (c *conn) writeLoop(parent context.Context, pingInterval time.Duration) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	defer context.AfterFunc(c.abortCtx, cancel)()
	defer c.abort()
	ticker := time.NewTicker(pingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-c.queue:
			if err := c.writeBatch(ctx, b); err != nil {
				c.log.Debug("emulator: write failed", "connectionId", c.id, "err", err)
				c.ws.CloseNow()
				return
			}
		case <-ticker.C:
			if err := c.write(ctx, pingRecord); err != nil {
				c.ws.CloseNow()
				return
			}
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
					c.ws.CloseNow()
					return
				}
				continue
			default:
			}
			break
		}
	}
	wctx, cancel := context.WithTimeout(ctx, closeWriteTimeout)
	err := c.ws.Write(wctx, websocket.MessageText, encodeClose(c.reason))
	cancel()
	if err != nil {
		c.ws.CloseNow()
		return
	}
	status := c.status
	if status == 0 {
		status = websocket.StatusNormalClosure
	}
	// Close waits (bounded by the library) for the client's close frame,
	// which the reader goroutine consumes.
	_ = c.ws.Close(status, "")
}

func (c *conn) write(ctx context.Context, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.ws.Write(wctx, websocket.MessageText, b)
}

// writeBatch writes first plus whatever else is already queued (up to
// maxBatchBytes) as one text frame: several records per frame are allowed.
func (c *conn) writeBatch(ctx context.Context, first []byte) error {
	if len(c.queue) == 0 {
		return c.write(ctx, first)
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	w, err := c.ws.Writer(wctx, websocket.MessageText)
	if err != nil {
		return err
	}
	n := 0
	b := first
	for {
		if _, err := w.Write(b); err != nil {
			return err
		}
		n += len(b)
		if n >= maxBatchBytes {
			break
		}
		select {
		case b = <-c.queue:
			continue
		default:
		}
		break
	}
	return w.Close()
}
