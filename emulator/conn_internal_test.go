package emulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
)

// stuckSink is a transport whose writes block until it is killed (a client
// that stopped reading with full TCP buffers), or succeed at once when
// fast; it records what it was sent.
type stuckSink struct {
	fast   bool
	killed chan struct{}
	kills  atomic.Int32
	got    [][]byte
}

func newStuckSink(fast bool) *stuckSink { return &stuckSink{fast: fast, killed: make(chan struct{})} }

func (s *stuckSink) write(ctx context.Context, b []byte) error {
	if !s.fast {
		<-s.killed
		return errors.New("killed")
	}
	s.got = append(s.got, append([]byte(nil), b...))
	return nil
}

func (s *stuckSink) writer(ctx context.Context) (io.WriteCloser, error) {
	return &stuckUnit{s: s, ctx: ctx}, nil
}

func (s *stuckSink) end(websocket.StatusCode) {}

func (s *stuckSink) kill() {
	if s.kills.Add(1) == 1 {
		close(s.killed)
	}
}

type stuckUnit struct {
	s   *stuckSink
	ctx context.Context
	buf bytes.Buffer
}

func (u *stuckUnit) Write(p []byte) (int, error) { return u.buf.Write(p) }
func (u *stuckUnit) Close() error                { return u.s.write(u.ctx, u.buf.Bytes()) }

// TestWriteTimeoutKillsTheSink: a write that blocks is ended after
// writeTimeout by killing its transport; a write that finished is never
// killed later; after the sink changes (a resumed stateful connection) the
// timer kills the new sink, not the old one.
func TestWriteTimeoutKillsTheSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fast := newStuckSink(true)
		c := newConn("c1", "chat", "", fast, 8, New(Options{}).log)
		ctx := context.Background()
		if err := c.write(ctx, []byte("a")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * writeTimeout)
		if fast.kills.Load() != 0 || len(fast.got) != 1 {
			t.Fatalf("finished write: kills=%d got=%q", fast.kills.Load(), fast.got)
		}

		stuck := newStuckSink(false)
		c.out = stuck
		t0 := time.Now()
		if err := c.write(ctx, []byte("b")); err == nil {
			t.Fatal("a stuck write succeeded")
		}
		if d := time.Since(t0); d != writeTimeout {
			t.Fatalf("stuck write ended after %s, want %s", d, writeTimeout)
		}
		if stuck.kills.Load() != 1 || fast.kills.Load() != 0 {
			t.Fatalf("kills: stuck %d, old sink %d", stuck.kills.Load(), fast.kills.Load())
		}

		// The Close message has its own, shorter bound.
		stuck2 := newStuckSink(false)
		c.out = stuck2
		t0 = time.Now()
		if err := c.writeWithin(ctx, closeWriteTimeout, []byte("close")); err == nil || time.Since(t0) != closeWriteTimeout {
			t.Fatalf("close write: err=%v after %s", err, time.Since(t0))
		}
	})
}

// TestBatchedWriteTimeout: several queued records go out as one unit,
// bounded by the same timeout.
func TestBatchedWriteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fast := newStuckSink(true)
		c := newConn("c1", "chat", "", fast, 8, New(Options{}).log)
		for _, s := range []string{"b", "c"} {
			c.enqueue(rawMessage([]byte(s)))
		}
		if err := c.writeBatch(context.Background(), rawMessage([]byte("a"))); err != nil {
			t.Fatal(err)
		}
		if len(fast.got) != 1 || string(fast.got[0]) != "abc" {
			t.Fatalf("units %q, want one \"abc\"", fast.got)
		}

		stuck := newStuckSink(false)
		c.out = stuck
		c.enqueue(rawMessage([]byte("e")))
		t0 := time.Now()
		if err := c.writeBatch(context.Background(), rawMessage([]byte("d"))); err == nil || time.Since(t0) != writeTimeout {
			t.Fatalf("stuck batch: err=%v after %s", err, time.Since(t0))
		}
		time.Sleep(2 * writeTimeout)
		if stuck.kills.Load() != 1 || fast.kills.Load() != 0 {
			t.Fatalf("kills: stuck %d, fast %d", stuck.kills.Load(), fast.kills.Load())
		}
	})
}
