package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// invocationRefused is the Close error for client-to-server messages: in
// serverless mode without upstream there is no hub to invoke.
const invocationRefused = "the client sent a hub invocation, but the hub runs in serverless mode without upstream: clients may only receive messages (the emulator, like the service, closes such connections)"

// handleClient serves the WebSocket transport: GET /client/?hub=&id=.
func (e *Emulator) handleClient(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, OPTIONS")
		writeError(w, r, http.StatusMethodNotAllowed, codeMethodNotAllowed, "", "the client endpoint takes a WebSocket GET; negotiate with POST /client/negotiate?hub=<hub>")
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "transport", "only the WebSockets transport is available: the request is not a WebSocket upgrade")
		return
	}
	key, msg := hubQuery(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, codeInvalidHubName, "hub", msg)
		return
	}
	raw := bearerToken(r, true)
	if raw == "" {
		writeUnauthorized(w, r, missingTokenMessage(true))
		return
	}
	p, err := e.validate(raw, checkClientAudience(r, key))
	if err != nil {
		writeUnauthorized(w, r, err.Error())
		return
	}
	id, user := newID(), p.user
	if token := r.URL.Query().Get("id"); token != "" {
		e.mu.Lock()
		pc, ok := e.pending[token]
		delete(e.pending, token)
		e.mu.Unlock()
		switch {
		case !ok || !e.now().Before(pc.expires):
			writeError(w, r, http.StatusNotFound, codeNegotiateTokenUnknown, "id", "unknown or expired connection token: negotiate again (a token from /client/negotiate is valid for 30 s and for one connection)")
			return
		case pc.hub != key:
			writeError(w, r, http.StatusNotFound, codeNegotiateTokenUnknown, "id", fmt.Sprintf("the connection token was negotiated for hub %q, not %q", pc.hub, key))
			return
		}
		id, user = pc.id, pc.user
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
	e.serveConn(ws, id, key, user)
}

// serveConn runs the handshake, registers the connection and reads until the
// socket closes.
func (e *Emulator) serveConn(ws *websocket.Conn, id, key, user string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	hctx, hcancel := context.WithTimeout(ctx, handshakeTimeout)
	first, rest, err := readHandshake(hctx, ws)
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
	_ = first
	// The handshake response goes first in the queue, and the connection is
	// registered before the client can see it: a REST call made right after
	// the client's handshake completes finds the connection.
	c := newConn(id, key, user, ws, e.queueSize, e.log)
	c.queue <- handshakeOK
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_ = ws.Write(ctx, websocket.MessageText, encodeClose("the emulator is shutting down"))
		_ = ws.Close(websocket.StatusGoingAway, "")
		return
	}
	h := e.hubs[key]
	if h == nil {
		h = newHub()
		e.hubs[key] = h
	}
	if old := h.conns[id]; old != nil {
		old.requestClose("another connection used the same connection id", false, websocket.StatusPolicyViolation)
		h.remove(old)
	}
	h.add(c)
	e.mu.Unlock()
	e.log.Debug("emulator: client connected", "hub", key, "connectionId", id, "user", user)

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(ctx, e.pingInterval)
	}()

	e.readLoop(ctx, c, rest)

	cancel()
	<-writerDone
	ws.CloseNow()
	e.mu.Lock()
	if h := e.hubs[key]; h != nil {
		h.remove(c)
		if h.empty() {
			delete(e.hubs, key)
		}
	}
	e.mu.Unlock()
	e.log.Debug("emulator: client disconnected", "hub", key, "connectionId", id)
}

// handshakeError is a handshake the emulator answers with {"error":…}.
type handshakeError struct{ msg string }

func (h handshakeError) Error() string { return h.msg }

// readHandshake reads until the first record, validates it and returns the
// bytes that followed it in the same frame(s).
func readHandshake(ctx context.Context, ws *websocket.Conn) ([]byte, []byte, error) {
	var buf []byte
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return nil, nil, err
		}
		buf = append(buf, data...)
		recs, rest := splitRecords(buf)
		if len(recs) == 0 {
			if len(buf) > readLimit {
				return nil, nil, handshakeError{"handshake record too large"}
			}
			continue
		}
		if err := parseHandshake(recs[0]); err != nil {
			return nil, nil, handshakeError{err.Error()}
		}
		// Re-join whatever followed the handshake for the normal reader.
		var after []byte
		for _, r := range recs[1:] {
			after = append(after, r...)
			after = append(after, recordSeparator)
		}
		after = append(after, rest...)
		return recs[0], after, nil
	}
}

// readLoop reads client records until the socket closes. Pings are
// ignored; invocations close the connection as the service does.
func (e *Emulator) readLoop(ctx context.Context, c *conn, buf []byte) {
	process := func() bool {
		recs, rest := splitRecords(buf)
		for _, rec := range recs {
			t, err := messageType(rec)
			if err != nil {
				c.requestClose("invalid message from client: "+err.Error(), false, websocket.StatusPolicyViolation)
				return false
			}
			switch t {
			case msgPing, msgCompletion, msgStreamItem, msgCancelInvocation:
				// Nothing to do: no upstream in serverless mode.
			case msgInvocation, msgStreamInvocation:
				c.requestClose(invocationRefused, false, websocket.StatusNormalClosure)
				return false
			case msgClose:
				c.requestClose("", false, websocket.StatusNormalClosure)
				return false
			default:
				c.requestClose(fmt.Sprintf("unknown message type %d", t), false, websocket.StatusPolicyViolation)
				return false
			}
		}
		if len(rest) > readLimit {
			c.requestClose("record too large", false, websocket.StatusMessageTooBig)
			return false
		}
		buf = append(buf[:0], rest...)
		return true
	}
	ok := process()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		if !ok {
			continue // closing: keep reading so the close handshake completes
		}
		buf = append(buf, data...)
		ok = process()
	}
}
