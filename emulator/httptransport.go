package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// endedGrace is how long an ended HTTP-transport connection stays known to
// its connection token, so that the client's last poll gets 204 and its
// DELETE 202 instead of 404.
const endedGrace = 5 * time.Second

// transportKind is the HTTP transport of a connection.
type transportKind int

const (
	kindSSE transportKind = iota + 1
	kindLongPolling
)

func (k transportKind) String() string {
	if k == kindSSE {
		return "ServerSentEvents"
	}
	return "LongPolling"
}

// httpConn is a connection on the Server-Sent Events or long-polling
// transport. Unlike a WebSocket it spans many HTTP requests, which find it
// by the connection token in ?id=.
type httpConn struct {
	token string
	kind  transportKind
	c     *conn
	sse   *sseSink    // Server-Sent Events only
	lp    *pollSink   // long polling only
	hs    *time.Timer // handshake timeout

	// mu serialises the client's POSTs; it guards the fields below.
	mu         sync.Mutex
	in         []byte // unfinished record(s) from the client
	handshaken bool
	broken     bool // closing: later client data is ignored

	endOnce sync.Once
	ended   chan struct{} // closed when the connection is over
}

// handleHTTPTransport serves GET (event stream or poll), POST and DELETE on
// /client/ for the Server-Sent Events and long-polling transports. Every
// request carries the client token (Authorization header, or the
// access_token query that EventSource needs), already checked by
// authorizeClient like the WebSocket upgrade.
func (e *Emulator) handleHTTPTransport(w http.ResponseWriter, r *http.Request, key string, p principal) {
	ids := r.URL.Query()["id"]
	if len(ids) != 1 || ids[0] == "" {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "id",
			"the Server-Sent Events and long-polling transports need the connectionToken from negotiate in ?id= (once): negotiate first; skipNegotiation works only with WebSockets")
		return
	}
	token := ids[0]
	kind := kindLongPolling
	if r.Method == http.MethodGet && acceptsEventStream(r) {
		kind = kindSSE
	}

	hc, created, status, code, msg := e.httpConnFor(r.Method, token, key, p.user, kind)
	if hc == nil {
		writeError(w, r, status, code, "id", msg)
		return
	}
	if created {
		e.noteClient(hc.c.id, r, p)
	}
	switch r.Method {
	case http.MethodGet:
		if kind == kindSSE {
			if !created {
				writeError(w, r, http.StatusConflict, codeConflict, "id", "this connection already has its event stream: a connection token opens one stream")
				return
			}
			e.serveSSE(w, r, hc)
			return
		}
		if created {
			// The first poll only establishes the connection and returns
			// at once, empty (the client sends the handshake after it).
			go e.runLongPolling(hc)
			writePoll(w, nil)
			return
		}
		hc.lp.poll(w, r, e.pollTimeout)
	case http.MethodPost:
		e.receive(w, r, hc)
	case http.MethodDelete:
		if hc.kind != kindLongPolling {
			writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "id", "DELETE ends long-polling connections only: this connection uses "+hc.kind.String()+" (close the EventSource to end it)")
			return
		}
		hc.lp.stop()
		w.WriteHeader(http.StatusAccepted)
	}
}

// acceptsEventStream reports whether the GET asks for Server-Sent Events.
func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == "text/event-stream" {
				return true
			}
		}
	}
	return false
}

// httpConnFor finds the connection of token, or creates it on the first GET
// from the negotiated connection (which the token then no longer opens as
// a WebSocket). It checks that later requests come for the same hub, user
// and transport. On failure hc is nil and status, code and msg describe the
// answer.
func (e *Emulator) httpConnFor(method, token, key, user string, kind transportKind) (hc *httpConn, created bool, status int, code, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if hc = e.httpConns[token]; hc != nil {
		switch {
		case hc.c.hub != key:
			return nil, false, http.StatusNotFound, codeNegotiateTokenUnknown, fmt.Sprintf("the connection token belongs to a connection of hub %q, not %q", hc.c.hub, key)
		case hc.c.user != user:
			return nil, false, http.StatusForbidden, codeForbidden, "the access token names another user than the one this connection was opened for: every request of a connection must carry the same identity"
		case method == http.MethodGet && hc.kind != kind:
			return nil, false, http.StatusBadRequest, codeInvalidRequest, fmt.Sprintf("cannot change transports mid-connection: this connection uses %s", hc.kind)
		}
		return hc, false, 0, "", ""
	}
	if method != http.MethodGet {
		return nil, false, http.StatusNotFound, codeNegotiateTokenUnknown, "no open connection has this connection token: open it first with GET (Server-Sent Events or a long poll), or negotiate again if it has ended"
	}
	pc, status, code, msg := e.takePending(token, key, user)
	switch {
	case status != 0:
		return nil, false, status, code, msg
	case e.closed:
		return nil, false, http.StatusServiceUnavailable, codeUnavailable, "the emulator is shutting down"
	}
	hc = &httpConn{token: token, kind: kind, ended: make(chan struct{})}
	var out sink
	if kind == kindSSE {
		hc.sse = &sseSink{}
		out = hc.sse
	} else {
		hc.lp = newPollSink()
		out = hc.lp
	}
	hc.c = newConn(pc.id, key, user, out, e.queueSize, e.log)
	hc.hs = time.AfterFunc(handshakeTimeout, func() {
		hc.mu.Lock()
		defer hc.mu.Unlock()
		if !hc.handshaken {
			hc.broken = true
			hc.c.requestCloseFinal(nil)
		}
	})
	e.httpConns[token] = hc
	// The goroutine serving the connection (the SSE handler or the
	// long-polling runner) is counted here, under the lock Close takes.
	e.wg.Add(1)
	e.log.Debug("emulator: client connecting", "hub", key, "connectionId", pc.id, "transport", kind.String())
	return hc, true, 0, "", ""
}

// receive serves POST: client-to-server records. The first record is the
// handshake; after it the connection is registered and reachable by REST.
func (e *Emulator) receive(w http.ResponseWriter, r *http.Request, hc *httpConn) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, readLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, http.StatusRequestEntityTooLarge, codePayloadTooLarge, "body", fmt.Sprintf("one POST carries at most %d bytes", readLimit))
			return
		}
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "body", "could not read the body")
		return
	}
	hc.c.touch()
	hc.mu.Lock()
	defer hc.mu.Unlock()
	select {
	case <-hc.ended:
		writeError(w, r, http.StatusNotFound, codeNegotiateTokenUnknown, "id", "the connection has ended: negotiate again")
		return
	default:
	}
	w.WriteHeader(http.StatusOK)
	if hc.broken {
		return
	}
	hc.in = append(hc.in, body...)
	if !hc.handshaken {
		i := bytes.IndexByte(hc.in, recordSeparator)
		if i < 0 {
			if len(hc.in) > readLimit {
				hc.broken = true
				hc.c.requestCloseFinal(encodeHandshakeError("handshake record too large"))
			}
			return
		}
		if refusal := e.handshakeRefusal(); refusal != "" {
			hc.broken = true
			hc.c.requestCloseFinal(encodeHandshakeError(refusal))
			return
		}
		proto, _, err := parseHandshake(hc.in[:i])
		if err == nil && proto.binary() && hc.kind == kindSSE {
			err = errors.New("the " + proto.String() + " hub protocol is binary and Server-Sent Events carry text only: use WebSockets or long polling (negotiate offers ServerSentEvents with the Text transfer format only)")
		}
		if err != nil {
			hc.broken = true
			hc.c.requestCloseFinal(encodeHandshakeError(err.Error()))
			return
		}
		hc.c.proto = proto
		hc.handshaken = true
		hc.hs.Stop()
		hc.in = append(hc.in[:0], hc.in[i+1:]...)
		// The handshake response goes first in the (still empty) queue,
		// and the connection is registered before the client can see it.
		hc.c.queue <- handshakeOKMessage
		if !e.register(hc.c) {
			hc.broken = true
			hc.c.requestClose("the emulator is shutting down", true, websocket.StatusGoingAway)
			return
		}
		e.log.Debug("emulator: client connected", "hub", hc.c.hub, "connectionId", hc.c.id, "user", hc.c.user, "transport", hc.kind.String(), "protocol", proto.String())
	}
	rest, ok := e.consume(hc.c, hc.in)
	if !ok {
		hc.broken = true
		hc.in = nil
		return
	}
	hc.in = append(hc.in[:0], rest...)
}

// endHTTPConn runs when the goroutine serving hc is done: the connection
// leaves its hub at once and its token is forgotten after endedGrace.
func (e *Emulator) endHTTPConn(hc *httpConn) {
	hc.endOnce.Do(func() {
		hc.hs.Stop()
		if hc.lp != nil {
			hc.lp.stop()
		}
		hc.c.requestCloseFinal(nil) // later enqueues are refused quietly
		close(hc.ended)
		hc.c.markDone()
		e.unregister(hc.c)
		e.log.Debug("emulator: client disconnected", "hub", hc.c.hub, "connectionId", hc.c.id, "transport", hc.kind.String())
		time.AfterFunc(endedGrace, func() {
			e.mu.Lock()
			if e.httpConns[hc.token] == hc {
				delete(e.httpConns, hc.token)
			}
			e.mu.Unlock()
		})
	})
}
