package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/serverless-signalr/functions-go/internal/netutil"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/vmihailenco/msgpack/v5"
)

// recordSep ends every JSON hub protocol record.
const recordSep = 0x1e

// negotiateResp is the handler's negotiate answer.
type negotiateResp struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

// negotiate POSTs an empty body to u (the handler's negotiate) and checks
// the answer.
func negotiate(ctx context.Context, c *http.Client, u string) (negotiateResp, error) {
	var nr negotiateResp
	req, err := http.NewRequestWithContext(ctx, "POST", u, nil)
	if err != nil {
		return nr, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nr, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nr, err
	}
	if resp.StatusCode != http.StatusOK {
		return nr, fmt.Errorf("negotiate %s: status %d: %s", u, resp.StatusCode, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, &nr); err != nil {
		return nr, fmt.Errorf("negotiate: answer is not JSON: %w", err)
	}
	if nr.URL == "" || nr.AccessToken == "" {
		return nr, fmt.Errorf("negotiate: answer lacks url or accessToken: %s", body)
	}
	return nr, nil
}

// tracker aggregates what every client of a test received; readers update
// it, the test polls it.
type tracker struct {
	rounds    []time.Time    // send time of each single-broadcast round
	roundGot  []atomic.Int32 // clients that received round i
	burst     int            // messages in the burst
	burstFull atomic.Int32   // clients that received every burst message
	newMsgs   atomic.Int64   // "newMessage" records received by all clients
	closed    atomic.Int32   // clients whose connection ended
	// ownPresence counts the clients that received the chat hub's
	// "connected" presence event about themselves; drainGot the clients
	// that received the drain marker (see fanoutDrain).
	ownPresence atomic.Int32
	drainGot    atomic.Int32
	// msgpackHalf makes every other client of connectMany speak the
	// MessagePack hub protocol.
	msgpackHalf bool
}

func newTracker(rounds, burst int) *tracker {
	return &tracker{rounds: make([]time.Time, rounds), roundGot: make([]atomic.Int32, rounds), burst: burst}
}

// hubClient is one WebSocket client of the emulator speaking the JSON hub
// protocol, as @microsoft/signalr does after negotiate.
type hubClient struct {
	conn *websocket.Conn
	id   string // the connection id of the service negotiate
	tr   *tracker
	done chan struct{}
	// msgpack: the client speaks the MessagePack hub protocol (binary
	// frames, varint length-prefixed records); partial holds an unfinished
	// record. Only the reader touches partial.
	msgpack bool
	partial []byte

	mu        sync.Mutex
	roundAt   []time.Time // receipt time of each round
	dups      int         // records received twice
	newMsgs   int
	seen      []bool // burst sequence numbers received
	burstN    int    // distinct burst messages received
	burstMax  int    // highest burst sequence number so far
	outOrder  int    // burst messages that arrived after a higher one
	burstLast time.Time
	closeErr  string
	unknown   int // records that did not parse
	presence  int // "presence" records: the chat hub announces every connect and disconnect to every client
	// ownPresence: the client got the "connected" presence event about
	// itself. drainSeq is the last drain marker it got (drainAt: when);
	// presenceAfter counts the presence records that came after it.
	ownPresence   bool
	drainSeq      int
	drainAt       time.Time
	presenceAfter int
	// fanoutBytes is the size on the wire (with framing) of the last
	// "fanout" record received.
	fanoutBytes int
}

// connectHub connects one client (dialHub) and starts its reader and pings.
func connectHub(ctx context.Context, hc *http.Client, handlerNegotiate string, tr *tracker, msgpackProto bool) (*hubClient, error) {
	start := time.Now()
	conn, rest, id, err := dialHubID(ctx, hc, handlerNegotiate, msgpackProto)
	if err != nil {
		return nil, err
	}
	c := &hubClient{conn: conn, id: id, tr: tr, done: make(chan struct{}), roundAt: make([]time.Time, len(tr.rounds)), seen: make([]bool, tr.burst+1), msgpack: msgpackProto}
	c.handle(rest, time.Now())
	go c.readLoop()
	go c.pingLoop(msgpackProto, start)
	return c, nil
}

// dialHub does what the JS client does: the handler's negotiate, the
// service's negotiate with the access token, then the WebSocket upgrade with
// the token in the Authorization header and the hub protocol handshake
// (JSON, or MessagePack). It returns the connection and whatever followed
// the handshake answer in its frame.
func dialHub(ctx context.Context, hc *http.Client, handlerNegotiate string, msgpackProto bool) (*websocket.Conn, []byte, error) {
	conn, rest, _, err := dialHubID(ctx, hc, handlerNegotiate, msgpackProto)
	return conn, rest, err
}

// dialHubID is dialHub that also returns the connection id the service
// negotiate assigned.
func dialHubID(ctx context.Context, hc *http.Client, handlerNegotiate string, msgpackProto bool) (*websocket.Conn, []byte, string, error) {
	nr, err := negotiate(ctx, hc, handlerNegotiate)
	if err != nil {
		return nil, nil, "", err
	}
	u, err := url.Parse(nr.URL)
	if err != nil {
		return nil, nil, "", fmt.Errorf("negotiate url: %w", err)
	}
	if !netutil.IsLoopback(u.Hostname()) {
		return nil, nil, "", fmt.Errorf("negotiate url %q is not loopback; the benchmark only talks to this machine", u.Redacted())
	}
	auth := "Bearer " + nr.AccessToken

	// Service negotiate: {url path}/negotiate?{url query}&negotiateVersion=1.
	nu := *u
	nu.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	q := u.Query()
	q.Set("negotiateVersion", "1")
	nu.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, "POST", nu.String(), nil)
	if err != nil {
		return nil, nil, "", err
	}
	req.Header.Set("Authorization", auth)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, "", err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return nil, nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, "", fmt.Errorf("service negotiate: status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	var sn struct {
		ConnectionID    string `json:"connectionId"`
		ConnectionToken string `json:"connectionToken"`
	}
	if err := json.Unmarshal(body, &sn); err != nil || sn.ConnectionToken == "" || sn.ConnectionID == "" {
		return nil, nil, "", fmt.Errorf("service negotiate: no connectionId and connectionToken in %s", body)
	}

	wu := *u
	wu.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	q = u.Query()
	q.Set("id", sn.ConnectionToken)
	wu.RawQuery = q.Encode()
	conn, _, err := websocket.Dial(ctx, wu.String(), &websocket.DialOptions{
		HTTPClient:      hc,
		HTTPHeader:      http.Header{"Authorization": {auth}},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, nil, "", fmt.Errorf("websocket: %w", err)
	}
	conn.SetReadLimit(4 << 20)
	hs := "{\"protocol\":\"json\",\"version\":1}\x1e"
	if msgpackProto {
		hs = "{\"protocol\":\"messagepack\",\"version\":1}\x1e"
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(hs)); err != nil {
		conn.CloseNow()
		return nil, nil, "", fmt.Errorf("handshake write: %w", err)
	}
	_, first, err := conn.Read(ctx)
	if err != nil {
		conn.CloseNow()
		return nil, nil, "", fmt.Errorf("handshake read: %w", err)
	}
	answer, rest, ok := bytes.Cut(first, []byte{recordSep})
	if !ok || string(answer) != "{}" {
		conn.CloseNow()
		return nil, nil, "", fmt.Errorf("handshake refused: %q", textutil.Truncate(string(first), 200))
	}
	return conn, rest, sn.ConnectionID, nil
}

// connectTimeout bounds one client's connect (negotiates, upgrade,
// handshake): the JS client's default server timeout
// (serverTimeoutInMilliseconds, 30 s), what it waits for the server to
// answer.
const connectTimeout = 30 * time.Second

// clientPingInterval is how often the client pings, as @microsoft/signalr
// does (keepAliveIntervalInMilliseconds): the emulator closes a client that
// sends nothing for its client timeout (30 s).
const clientPingInterval = 15 * time.Second

// pingLoop pings the server until the connection ends, the first time
// clientPingInterval after from. @microsoft/signalr starts its keep-alive
// timer when it has sent the handshake request, before the answer arrives
// (HubConnection._startInternal: _resetKeepAliveInterval right after
// writeHandshakeRequest), and the server's client timeout runs from the
// handshake too, so a client whose handshake answer is slow must not wait
// another full interval: from is the start of the connect (no later than
// the handshake request).
func (c *hubClient) pingLoop(msgpackProto bool, from time.Time) {
	ping := []byte("{\"type\":6}\x1e")
	typ := websocket.MessageText
	if msgpackProto {
		ping, typ = []byte{0x02, 0x91, 0x06}, websocket.MessageBinary // [6], length-prefixed
	}
	t := time.NewTimer(max(time.Until(from.Add(clientPingInterval)), 0))
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.conn.Write(ctx, typ, ping)
			cancel()
			t.Reset(clientPingInterval)
		}
	}
}

// readLoop reads until the connection ends. It stops when close is called.
func (c *hubClient) readLoop() {
	defer close(c.done)
	defer c.tr.closed.Add(1)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			if c.closeErr == "" {
				c.closeErr = err.Error()
			}
			c.mu.Unlock()
			return
		}
		c.handle(data, time.Now())
	}
}

// record is the part of a hub protocol message the benchmark reads.
type record struct {
	Type      int               `json:"type"`
	Target    string            `json:"target"`
	Arguments []json.RawMessage `json:"arguments"`
	Error     string            `json:"error"`
}

// handle processes the records of one frame received at now.
func (c *hubClient) handle(frame []byte, now time.Time) {
	if c.msgpack {
		c.handleMsgpack(frame, now)
		return
	}
	for len(frame) > 0 {
		var rec []byte
		var ok bool
		rec, frame, ok = bytes.Cut(frame, []byte{recordSep})
		if !ok || len(rec) == 0 {
			continue
		}
		var m record
		if err := json.Unmarshal(rec, &m); err != nil {
			c.mu.Lock()
			c.unknown++
			c.mu.Unlock()
			continue
		}
		switch m.Type {
		case 1:
			c.invocation(m, now, len(rec)+1)
		case 7:
			c.mu.Lock()
			c.closeErr = "server closed the connection: " + m.Error
			c.mu.Unlock()
		}
	}
}

// presenceArg is the part of a presence event's argument the benchmark
// reads.
type presenceArg struct {
	ConnectionID string `json:"connectionId"`
	Event        string `json:"event"`
}

func (c *hubClient) invocation(m record, now time.Time, size int) {
	var n int
	var p presenceArg
	if len(m.Arguments) > 0 {
		if m.Target == "presence" {
			// Only an announcement that names this client matters: skip
			// decoding the others (n²/2 of them in the connect phase).
			if c.id != "" && bytes.Contains(m.Arguments[0], []byte(c.id)) {
				_ = json.Unmarshal(m.Arguments[0], &p)
			}
		} else {
			_ = json.Unmarshal(m.Arguments[0], &n)
		}
	}
	c.invoked(m.Target, n, p, now, size)
}

// handleMsgpack processes the MessagePack records of one frame (a record
// may span frames).
func (c *hubClient) handleMsgpack(frame []byte, now time.Time) {
	buf := append(c.partial, frame...)
	for {
		n, k := binary.Uvarint(buf)
		if k <= 0 || uint64(len(buf)-k) < n {
			break
		}
		rec := buf[k : k+int(n)]
		buf = buf[k+int(n):]
		var m []any
		if err := msgpack.Unmarshal(rec, &m); err != nil || len(m) == 0 {
			c.mu.Lock()
			c.unknown++
			c.mu.Unlock()
			continue
		}
		switch toInt(m[0]) {
		case 1:
			var target string
			var arg int
			var p presenceArg
			if len(m) >= 5 {
				target, _ = m[3].(string)
				if args, _ := m[4].([]any); len(args) > 0 {
					arg = toInt(args[0])
					if obj, ok := args[0].(map[string]any); ok {
						p.ConnectionID, _ = obj["connectionId"].(string)
						p.Event, _ = obj["event"].(string)
					}
				}
			}
			c.invoked(target, arg, p, now, k+int(n))
		case 7:
			reason := ""
			if len(m) > 1 {
				reason, _ = m[1].(string)
			}
			c.mu.Lock()
			c.closeErr = "server closed the connection: " + reason
			c.mu.Unlock()
		}
	}
	c.partial = append(c.partial[:0], buf...)
}

// toInt is a decoded MessagePack integer of any width (-1 otherwise).
func toInt(v any) int {
	switch n := v.(type) {
	case int8:
		return int(n)
	case int16:
		return int(n)
	case int32:
		return int(n)
	case int64:
		return int(n)
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	case uint64:
		return int(n)
	}
	return -1
}

// invoked records an Invocation of target with first argument n (p for a
// presence event), size bytes on the wire.
func (c *hubClient) invoked(target string, n int, p presenceArg, now time.Time, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch target {
	case "newMessage":
		c.newMsgs++
		c.tr.newMsgs.Add(1)
	case "presence":
		c.presence++
		if !c.drainAt.IsZero() {
			c.presenceAfter++
		}
		if !c.ownPresence && p.Event == "connected" && p.ConnectionID != "" && p.ConnectionID == c.id {
			c.ownPresence = true
			c.tr.ownPresence.Add(1)
		}
	case drainTarget:
		// Marker n of fanoutDrain: presenceAfter restarts with each.
		if n <= c.drainSeq {
			c.dups++
			return
		}
		c.drainSeq, c.drainAt, c.presenceAfter = n, now, 0
		c.tr.drainGot.Add(1)
	case "fanout":
		if n < 0 || n >= len(c.roundAt) {
			c.unknown++
			return
		}
		if !c.roundAt[n].IsZero() {
			c.dups++
			return
		}
		c.roundAt[n] = now
		c.fanoutBytes = size
		c.tr.roundGot[n].Add(1)
	case "burst":
		if n < 1 || n >= len(c.seen) {
			c.unknown++
			return
		}
		if c.seen[n] {
			c.dups++
			return
		}
		c.seen[n] = true
		if n < c.burstMax {
			c.outOrder++
		}
		c.burstMax = max(c.burstMax, n)
		c.burstN++
		c.burstLast = now
		if c.burstN == c.tr.burst {
			c.tr.burstFull.Add(1)
		}
	default:
		c.unknown++
	}
}

// ended reports whether the connection has ended (its reader returned).
func (c *hubClient) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// close ends the connection at once and waits for the reader.
func (c *hubClient) close() {
	c.conn.CloseNow()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
}

// connectMany connects n clients, par at a time, within timeout. It returns
// the clients that connected, the connect latency of each, and the number
// of failures with the first error.
func connectMany(ctx context.Context, hc *http.Client, handlerNegotiate string, tr *tracker, n, par int, timeout time.Duration) ([]*hubClient, []time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		mu       sync.Mutex
		clients  []*hubClient
		lat      []time.Duration
		failures int
		first    error
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for range min(par, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if int(i) > n {
					return
				}
				t0 := time.Now()
				cctx, ccancel := context.WithTimeout(ctx, connectTimeout)
				c, err := connectHub(cctx, hc, handlerNegotiate, tr, tr.msgpackHalf && i%2 == 0)
				ccancel()
				mu.Lock()
				if err != nil {
					failures++
					if first == nil {
						first = err
					}
				} else {
					clients = append(clients, c)
					lat = append(lat, time.Since(t0))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if missing := n - len(clients) - failures; missing > 0 {
		failures += missing
		if first == nil {
			first = fmt.Errorf("connect phase timed out after %s", timeout)
		}
	}
	return clients, lat, failures, first
}

// closeAll closes every client, 64 at a time.
// disconnected counts the clients whose connection has ended, and returns
// the first close reason seen.
func disconnected(clients []*hubClient) (n int, firstReason string) {
	for _, c := range clients {
		if c.ended() {
			n++
			c.mu.Lock()
			if firstReason == "" {
				firstReason = c.closeErr
			}
			c.mu.Unlock()
		}
	}
	return n, firstReason
}

func closeAll(clients []*hubClient) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, c := range clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.close()
		})
	}
	wg.Wait()
}

// waitUntil polls cond every millisecond until it holds or timeout passes;
// it reports whether cond held.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
