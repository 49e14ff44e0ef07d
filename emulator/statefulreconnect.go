package emulator

import (
	"context"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// Stateful reconnect (HubProtocol.md "Ack"/"Sequence", TransportProtocols.md;
// @microsoft/signalr 8+ withStatefulReconnect, WebSockets only). A client
// that asks negotiate with useStatefulReconnect=true gets
// "useStatefulReconnect": true. When its WebSocket drops, the connection
// (id, user, groups, queued messages) is kept for the reconnect window; the
// client opens a new WebSocket with the same URL (same connection token),
// without a handshake, and both sides send a Sequence message with the
// first id they will resend, then resend what the other side has not
// acknowledged. Both sides number the messages that matter (Invocation,
// StreamItem, Completion, StreamInvocation, CancelInvocation) from 1, and
// acknowledge with Ack the highest id received; duplicates are dropped by
// id on receipt.
//
// The emulator keeps every sequenced message it wrote until the client
// acknowledges it, up to Options.StatefulReconnectBufferSize bytes of
// encoded records per connection. Past the bound the oldest unacknowledged
// messages are dropped from the replay buffer: a client that then reconnects
// having missed one of them receives a Sequence beyond what it has and
// closes the connection itself ("Sequence ID greater than amount of messages
// we've received"), so a message is never silently lost, duplicated or
// reordered within a connection. While the socket is away, new messages wait
// in the connection's queue (Options.QueueSize records); when it fills, the
// connection is closed as a slow consumer and the reconnect is refused.

// Defaults of the stateful reconnect options: ASP.NET Core's (the service,
// which runs on it, does not document its own).
const (
	// DefaultReconnectWindow is how long a dropped stateful connection
	// waits for its client (ASP.NET Core's DisconnectTimeout).
	DefaultReconnectWindow = 15 * time.Second
	// DefaultStatefulReconnectBufferSize bounds the bytes of unacknowledged
	// messages kept for replay per connection (ASP.NET Core's
	// StatefulReconnectBufferSize).
	DefaultStatefulReconnectBufferSize = 100_000
)

// Attachment states of a stateful connection (conn.srState).
const (
	srAttached = iota // a socket serves the connection
	srDetached        // the socket dropped; waiting for the client
	srEnded           // over: no resume
)

// replayItem is a sequenced message written to the client and not yet
// acknowledged.
type replayItem struct {
	id  int64
	rec []byte
}

// track numbers a sequenced record the writer is about to write and keeps
// it for replay, dropping the oldest records past the buffer bound.
func (c *conn) track(rec []byte) {
	c.srMu.Lock()
	defer c.srMu.Unlock()
	c.sentSeq++
	c.replay = append(c.replay, replayItem{id: c.sentSeq, rec: rec})
	c.replayBytes += len(rec)
	drop := 0
	for c.replayBytes > c.replayLimit && drop < len(c.replay)-1 {
		c.replayBytes -= len(c.replay[drop].rec)
		drop++
	}
	if drop > 0 {
		c.log.Debug("emulator: stateful reconnect buffer full, oldest unacknowledged messages dropped", "connectionId", c.id, "dropped", drop)
		c.replay = append(c.replay[:0], c.replay[drop:]...)
	}
}

// ack forgets the records the client acknowledged (ids up to seq).
func (c *conn) ack(seq int64) {
	c.srMu.Lock()
	defer c.srMu.Unlock()
	n := 0
	for n < len(c.replay) && c.replay[n].id <= seq {
		c.replayBytes -= len(c.replay[n].rec)
		n++
	}
	c.replay = append(c.replay[:0], c.replay[n:]...)
}

// received numbers a sequenced client message and reports whether it is
// new (false: a duplicate the client resent after a reconnect).
func (c *conn) received() bool {
	c.srMu.Lock()
	defer c.srMu.Unlock()
	id := c.recvNext
	c.recvNext++
	if id <= c.recvSeq {
		return false
	}
	c.recvSeq = id
	return true
}

// resetSequence applies the client's Sequence message: the next message it
// sends has id seq. It reports false when seq is beyond what was received,
// which only a broken client sends.
func (c *conn) resetSequence(seq int64) bool {
	c.srMu.Lock()
	defer c.srMu.Unlock()
	if seq < 1 || seq > c.recvSeq+1 {
		return false
	}
	c.recvNext = seq
	return true
}

// ackMessage is the Ack of everything received so far.
func (c *conn) ackMessage() *outMessage {
	c.srMu.Lock()
	defer c.srMu.Unlock()
	return &outMessage{typ: msgAck, sequenceID: c.recvSeq}
}

// replayUnacked starts a resumed socket: the Sequence message with the
// first id the emulator resends, then every unacknowledged record.
func (c *conn) replayUnacked(ctx context.Context) error {
	c.srMu.Lock()
	first := c.sentSeq + 1
	if len(c.replay) > 0 {
		first = c.replay[0].id
	}
	items := append([]replayItem(nil), c.replay...)
	c.srMu.Unlock()
	if err := c.write(ctx, (&outMessage{typ: msgSequence, sequenceID: first}).encode(c.proto)); err != nil {
		return err
	}
	for _, it := range items {
		if err := c.write(ctx, it.rec); err != nil {
			return err
		}
	}
	return nil
}

// setState changes the attachment state and wakes whoever waits for a
// change. c.srMu must be held.
func (c *conn) setState(s int) {
	c.srState = s
	close(c.srChanged)
	c.srChanged = make(chan struct{})
}

// detach is called when the socket of a stateful connection has ended. It
// keeps the connection for the reconnect window and reports true, or
// reports false when the connection must end now (it is closing, or the
// emulator is).
func (e *Emulator) detach(c *conn) bool {
	select {
	case <-c.closing:
		return false
	default:
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false
	}
	e.wg.Add(1)
	e.mu.Unlock()
	c.srMu.Lock()
	c.setState(srDetached)
	changed := c.srChanged
	c.srMu.Unlock()
	e.log.Debug("emulator: stateful connection waiting for its client", "connectionId", c.id, "window", e.reconnectWindow)
	go func() {
		defer e.wg.Done()
		t := time.NewTimer(e.reconnectWindow)
		defer t.Stop()
		select {
		case <-changed: // resumed
			return
		case <-c.closing:
		case <-t.C:
		}
		c.srMu.Lock()
		if c.srState != srDetached {
			c.srMu.Unlock()
			return
		}
		c.setState(srEnded)
		c.srMu.Unlock()
		e.endConn(c)
	}()
	return true
}

// endConn forgets a connection whose sockets are gone for good.
func (e *Emulator) endConn(c *conn) {
	c.markDone()
	e.unregister(c)
	if c.stateful {
		e.mu.Lock()
		if e.resumable[c.token] == c {
			delete(e.resumable, c.token)
		}
		e.mu.Unlock()
	}
	e.log.Debug("emulator: client disconnected", "hub", c.hub, "connectionId", c.id)
}

// resume serves the new WebSocket of a stateful connection. A socket still
// attached (the emulator has not noticed the drop yet) is cut first; a
// connection that has ended closes the new socket, and the client falls
// back to its normal reconnect.
func (e *Emulator) resume(c *conn, ws *websocket.Conn) {
	for {
		c.srMu.Lock()
		switch c.srState {
		case srDetached:
			c.setState(srAttached)
			c.srMu.Unlock()
			e.log.Debug("emulator: stateful connection resumed", "connectionId", c.id)
			e.runSocket(c, ws, nil, true)
			return
		case srEnded:
			c.srMu.Unlock()
			_ = ws.Close(websocket.StatusPolicyViolation, "the connection has ended")
			return
		}
		old, changed := c.ws, c.srChanged
		c.srMu.Unlock()
		old.CloseNow()
		select {
		case <-changed:
		case <-time.After(closeWriteTimeout + writeTimeout):
			ws.CloseNow()
			return
		}
	}
}

// resumeTarget finds the stateful connection a WebSocket request with this
// connection token resumes, checking the hub and the user. ok is false
// when the token names none; a non-zero status refuses the request.
func (e *Emulator) resumeTarget(token, key, user string) (c *conn, status int, code, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c = e.resumable[token]
	switch {
	case c == nil:
		return nil, 0, "", ""
	case c.hub != key:
		return nil, http.StatusNotFound, codeNegotiateTokenUnknown, "the connection token belongs to a connection of another hub"
	case c.user != user:
		return nil, http.StatusForbidden, codeForbidden, "the access token names another user than the one this connection was opened for: a stateful reconnect must carry the same identity"
	}
	return c, 0, "", ""
}
