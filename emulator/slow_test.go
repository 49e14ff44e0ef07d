package emulator_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/serverless-signalr/functions-go/emulator"
)

// TestSlowConsumerDisconnected: a client that never reads is disconnected
// once its bounded queue is full, while a client that keeps up receives
// every message in order, and the REST sender never stalls.
func TestSlowConsumerDisconnected(t *testing.T) {
	e := newEnv(t, emulator.Options{QueueSize: 64})
	fast := e.connect("chat", "fast", false)

	tok := e.clientToken("chat", "slow")
	n := e.negotiate("chat", tok)
	slow, _, err := e.tryDial("chat", n.ConnectionToken, tok, false)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := slow.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")); err != nil {
		t.Fatal(err)
	}
	// The slow client never reads again.

	const count = 600
	pad := strings.Repeat("p", 32<<10)
	start := time.Now()
	for i := range count {
		body := fmt.Sprintf(`{"target":"m","arguments":[%d,"%s"]}`, i, pad)
		if r := e.rest("POST", "/api/hubs/chat/:send", apiV, body); r.status != 202 {
			t.Fatalf("send %d: %d", i, r.status)
		}
		// Drain the fast client as we go so it keeps up.
		if i%50 == 49 {
			for j := i - 49; j <= i; j++ {
				expectSeq(t, fast, j)
			}
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("sending took too long: the emulator stalled")
		}
	}
	// The slow consumer is dropped when its queue overflows, its write in
	// flight aborted at once: not only when the write timeout (10 s) ends it.
	t0 := time.Now()
	e.waitGone("chat", n.ConnectionID)
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("the slow consumer was dropped %s after the sends, as if only by the write timeout", d)
	}
	if r := e.rest("HEAD", "/api/hubs/chat/connections/"+fast.id, apiV, ""); r.status != 200 {
		t.Fatalf("fast client gone: %d", r.status)
	}
}

func expectSeq(t *testing.T, c *client, want int) {
	t.Helper()
	m, ok := c.next(5 * time.Second)
	if !ok || m.Type != 1 || len(m.Arguments) != 2 || string(m.Arguments[0]) != strconv.Itoa(want) {
		var first string
		if len(m.Arguments) > 0 {
			first = string(m.Arguments[0])
		}
		t.Fatalf("want message %d, got ok=%v type=%d first arg %q", want, ok, m.Type, first)
	}
}
