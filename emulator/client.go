package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// authorizeClient checks the hub and the client token of a request on the
// client endpoint, every transport alike, and answers the explanatory
// error itself when they do not pass.
func (e *Emulator) authorizeClient(w http.ResponseWriter, r *http.Request) (hubKey string, p principal, ok bool) {
	key, msg := hubQuery(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, codeInvalidHubName, "hub", msg)
		return "", principal{}, false
	}
	raw := bearerToken(r, true)
	if raw == "" {
		writeUnauthorized(w, r, missingTokenMessage(true))
		return "", principal{}, false
	}
	p, err := e.validate(raw, checkClientAudience(r, key))
	if err != nil {
		writeUnauthorized(w, r, err.Error())
		return "", principal{}, false
	}
	return key, p, true
}

// handleClient serves the client transports on /client/?hub=&id=: a GET
// with a WebSocket upgrade, a GET asking for text/event-stream (Server-Sent
// Events), any other GET (a long poll), POST (client-to-server data on the
// HTTP transports) and DELETE (end a long-polling connection).
func (e *Emulator) handleClient(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, POST, DELETE, OPTIONS")
		writeError(w, r, http.StatusMethodNotAllowed, codeMethodNotAllowed, "", "the client endpoint takes GET (WebSocket, Server-Sent Events or a long poll), POST (data from the client) and DELETE (end a long-polling connection); negotiate with POST /client/negotiate?hub=<hub>")
		return
	}
	key, p, ok := e.authorizeClient(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		e.handleHTTPTransport(w, r, key, p)
		return
	}
	id, user := newID(), p.user
	var stateful bool
	var resumed *conn
	token := r.URL.Query().Get("id")
	if token != "" {
		rc, status, code, msg := e.resumeTarget(token, key, p.user)
		if status != 0 {
			writeError(w, r, status, code, "id", msg)
			return
		}
		resumed = rc
	}
	if token != "" && resumed == nil {
		e.mu.Lock()
		pc, status, code, msg := e.takePending(token, key, p.user)
		e.mu.Unlock()
		if status != 0 {
			writeError(w, r, status, code, "id", msg)
			return
		}
		id, user, stateful = pc.id, pc.user, pc.stateful
	}

	// Add to the WaitGroup under the lock Close takes, so Close never waits
	// concurrently with an Add.
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		writeError(w, r, http.StatusServiceUnavailable, codeUnavailable, "", "the emulator is shutting down")
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	defer e.wg.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// A development tool: browser pages on any origin may connect.
		OriginPatterns: []string{"*"},
	})
	if err != nil {
		e.log.Debug("emulator: websocket accept failed", "err", err, "remote", remoteHost(r))
		return
	}
	ws.SetReadLimit(readLimit)
	if resumed != nil {
		e.resume(resumed, ws)
		return
	}
	e.noteClient(id, r, p)
	e.serveConn(ws, id, key, user, stateful, token)
}

// register adds c to its hub, replacing a connection with the same id. It
// reports false when the emulator is shutting down.
func (e *Emulator) register(c *conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	h := e.hubs[c.hub]
	if h == nil {
		h = newHub()
		e.hubs[c.hub] = h
	}
	if old := h.conns[c.id]; old != nil {
		old.requestClose("another connection used the same connection id", false, websocket.StatusPolicyViolation)
		h.remove(old)
	}
	h.add(c)
	e.upstreamConnected(c)
	return true
}

// unregister removes c from its hub (users, groups) and forgets an empty
// hub. Removing a connection that is no longer registered does nothing.
func (e *Emulator) unregister(c *conn) {
	e.mu.Lock()
	if h := e.hubs[c.hub]; h != nil {
		h.remove(c)
		e.dropIfEmpty(c.hub, h)
	}
	e.mu.Unlock()
	e.upstreamDisconnected(c)
}

// serveConn runs the handshake, registers the connection and serves it
// until the socket closes (a stateful one then waits for its client, see
// detach).
func (e *Emulator) serveConn(ws *websocket.Conn, id, key, user string, stateful bool, token string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	hctx, hcancel := context.WithTimeout(ctx, handshakeTimeout)
	proto, version, rest, err := readHandshake(hctx, ws, e.handshakeRefusal())
	hcancel()
	if err != nil {
		var he handshakeError
		if errors.As(err, &he) {
			wctx, wcancel := context.WithTimeout(ctx, closeWriteTimeout)
			_ = ws.Write(wctx, websocket.MessageText, encodeHandshakeError(he.msg))
			wcancel()
			_ = ws.Close(websocket.StatusPolicyViolation, "")
			return
		}
		ws.CloseNow()
		return
	}
	// The handshake response goes first in the queue, and the connection is
	// registered before the client can see it: a REST call made right after
	// the client's handshake completes finds the connection.
	c := newConn(id, key, user, nil, e.queueSize, e.log)
	c.proto = proto
	// Stateful reconnect needs both: negotiate asked for it, and the
	// handshake's protocol version has Ack and Sequence.
	if stateful && version >= 2 {
		c.stateful, c.token, c.replayLimit = true, token, e.replayLimit
		e.mu.Lock()
		e.resumable[token] = c
		e.mu.Unlock()
	}
	c.queue <- handshakeOKMessage
	if !e.register(c) {
		_ = ws.Write(ctx, proto.frameType(), newClose("the emulator is shutting down", true).encode(proto))
		_ = ws.Close(websocket.StatusGoingAway, "")
		e.endConn(c)
		return
	}
	e.log.Debug("emulator: client connected", "hub", key, "connectionId", id, "user", user, "protocol", proto.String(), "statefulReconnect", stateful)
	e.runSocket(c, ws, rest, false)
}

// runSocket serves c on ws until the socket ends: the writer on its own
// goroutine (first the replay when resumed), the reader on this one. Then
// the connection ends, unless it is stateful and not closing: it then
// waits for its client to reconnect.
func (e *Emulator) runSocket(c *conn, ws *websocket.Conn, rest []byte, resumed bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The writer is not running: the sink can change.
	out := wsSink{ws: ws, typ: c.proto.frameType()}
	c.out = out
	c.srMu.Lock()
	c.ws = ws
	c.srMu.Unlock()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		// A write in flight when the socket's reader ends is ended by
		// killing the socket (wsSink writes do not watch ctx).
		defer context.AfterFunc(ctx, out.kill)()
		if resumed {
			if err := c.replayUnacked(ctx); err != nil {
				c.out.kill()
				return
			}
		}
		c.writeLoop(ctx, e.pingInterval, e.clientTimeout)
	}()

	e.readLoop(ctx, c, ws, rest)

	cancel()
	<-writerDone
	ws.CloseNow()
	if c.stateful && e.detach(c) {
		return
	}
	if c.stateful {
		c.srMu.Lock()
		c.setState(srEnded)
		c.srMu.Unlock()
	}
	e.endConn(c)
}

// handshakeError is a handshake the emulator answers with {"error":…}.
type handshakeError struct{ msg string }

func (h handshakeError) Error() string { return h.msg }

// readHandshake reads until the first record (JSON text ending in 0x1E,
// whatever the protocol), validates it and returns the protocol, its
// version and the
// bytes that followed it in the same frame(s), which are in that protocol's
// framing. A non-empty refusal refuses any handshake with that error text
// once its record is complete.
func readHandshake(ctx context.Context, ws *websocket.Conn, refusal string) (protocol, int, []byte, error) {
	var buf []byte
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return 0, 0, nil, err
		}
		buf = append(buf, data...)
		i := bytes.IndexByte(buf, recordSeparator)
		if i < 0 {
			if len(buf) > readLimit {
				return 0, 0, nil, handshakeError{"handshake record too large"}
			}
			continue
		}
		if refusal != "" {
			return 0, 0, nil, handshakeError{refusal}
		}
		p, version, err := parseHandshake(buf[:i])
		if err != nil {
			return 0, 0, nil, handshakeError{err.Error()}
		}
		return p, version, buf[i+1:], nil
	}
}

// consume handles the complete client records at the start of buf and
// returns the unfinished rest. Messages of the connection itself (Ping,
// Close, Ack, Sequence) are handled here; every other message goes to
// onClientMessage. ok is false once the connection is closing: later data
// is ignored.
func (e *Emulator) consume(c *conn, buf []byte) (rest []byte, ok bool) {
	recs, rest, err := c.proto.split(buf)
	if err != nil {
		c.requestClose("invalid data from client: "+err.Error(), false, websocket.StatusPolicyViolation)
		return nil, false
	}
	acks := false
	for _, rec := range recs {
		m, err := parseClientMessage(c.proto, rec)
		if err != nil {
			c.requestClose("invalid message from client: "+err.Error(), false, websocket.StatusPolicyViolation)
			return nil, false
		}
		switch m.Type {
		case msgPing:
		case msgAck:
			if c.stateful {
				c.ack(m.SequenceID)
			}
		case msgSequence:
			if c.stateful && !c.resetSequence(m.SequenceID) {
				c.requestClose(fmt.Sprintf("invalid Sequence message: sequenceId %d is beyond the messages the emulator received", m.SequenceID), false, websocket.StatusPolicyViolation)
				return nil, false
			}
		case msgClose:
			c.requestClose("", false, websocket.StatusNormalClosure)
			return nil, false
		case msgInvocation, msgStreamInvocation, msgCompletion, msgCancelInvocation, msgStreamItem:
			if c.stateful {
				if !c.received() {
					continue // resent after a reconnect, already handled
				}
				acks = true
			}
			e.onClientMessage(c, m)
		default:
			c.requestClose(fmt.Sprintf("unknown message type %d", m.Type), false, websocket.StatusPolicyViolation)
			return nil, false
		}
	}
	if acks {
		c.enqueue(c.ackMessage())
	}
	if len(rest) > readLimit {
		c.requestClose("record too large", false, websocket.StatusMessageTooBig)
		return nil, false
	}
	return rest, true
}

// readLoop reads client records until the socket closes.
func (e *Emulator) readLoop(ctx context.Context, c *conn, ws *websocket.Conn, buf []byte) {
	buf, ok := e.consume(c, buf)
	buf = append([]byte(nil), buf...)
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		c.touch()
		if !ok {
			continue // closing: keep reading so the close handshake completes
		}
		buf = append(buf, data...)
		var rest []byte
		rest, ok = e.consume(c, buf)
		buf = append(buf[:0], rest...)
	}
}
