package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultAccessKey is the well-known development key Microsoft's emulator
// also uses. It is public: never use it outside a local machine.
const DefaultAccessKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// Defaults and bounds of Options.
const (
	DefaultPingInterval = 15 * time.Second
	// DefaultClientTimeout is the service's (and ASP.NET Core's) client
	// timeout.
	DefaultClientTimeout = 30 * time.Second
	DefaultQueueSize     = 1024
	DefaultMaxBodyBytes  = 1 << 20
	// negotiateTTL is how long a connectionToken from negotiate may be used
	// to open the WebSocket (the client connects immediately).
	negotiateTTL = 30 * time.Second
	// handshakeTimeout is the service's default client handshake timeout.
	handshakeTimeout = 15 * time.Second
	// readLimit bounds one incoming WebSocket message and one record.
	readLimit = 1 << 20
)

// Options configures an Emulator. The zero value works.
type Options struct {
	// AccessKey signs and validates tokens; DefaultAccessKey when empty.
	AccessKey string
	// Logger receives the emulator's logs; slog.Default() when nil.
	Logger *slog.Logger
	// PingInterval between server pings (keep-alive) on WebSockets and
	// Server-Sent Events; DefaultPingInterval (15 s) when zero. The JS
	// client drops a connection after its serverTimeoutInMilliseconds (30 s
	// by default) without traffic, so a longer interval reproduces that
	// mistake.
	PingInterval time.Duration
	// ClientTimeout closes a WebSocket or Server-Sent Events client that
	// sent nothing (not even a ping) for this long, with a Close message
	// saying so; DefaultClientTimeout (30 s) when zero, never when
	// negative. Long-polling clients do not ping; they are gone when they
	// stop polling (see PollTimeout).
	ClientTimeout time.Duration
	// QueueSize bounds each connection's send queue (records); 1024 when
	// zero. A connection whose queue is full is disconnected.
	QueueSize int
	// MaxBodyBytes bounds REST request bodies (413 beyond); 1 MB when zero.
	MaxBodyBytes int64
	// Now is the clock for token expiry and group ttl; time.Now when nil.
	Now func() time.Time
	// PollTimeout is how long a long poll waits for messages before it
	// answers 200 empty; DefaultPollTimeout (90 s) when zero. A
	// long-polling client with no poll outstanding for twice this long is
	// considered gone.
	PollTimeout time.Duration
	// ReconnectWindow is how long a stateful-reconnect connection whose
	// WebSocket dropped is kept for its client; DefaultReconnectWindow
	// (15 s) when zero.
	ReconnectWindow time.Duration
	// StatefulReconnectBufferSize bounds the bytes of unacknowledged
	// messages kept per stateful-reconnect connection for replay;
	// DefaultStatefulReconnectBufferSize (100,000) when zero. See
	// statefulreconnect.go for what happens past it.
	StatefulReconnectBufferSize int
	// ServiceMode is ServiceModeServerless (when empty) or
	// ServiceModeDefault, which emulates a service in Default mode with no
	// app server connected: negotiate and REST work, but every client
	// handshake, on every transport, is answered with
	// {"error":DefaultModeNoServerError} and the connection closes. New
	// panics on other values; check user input with ParseServiceMode.
	ServiceMode string
	// InvokeTimeout bounds how long POST …/connections/{id}/:invoke waits
	// for the client's Completion (504 after); DefaultInvokeTimeout when zero.
	InvokeTimeout time.Duration
	// Upstreams are the upstream settings (upstream.go): client invocations
	// and connection events go to the first matching template. None: client
	// messages are ignored, as the service does.
	Upstreams []UpstreamTemplate
	// UpstreamTimeout bounds one upstream call; DefaultUpstreamTimeout
	// when zero.
	UpstreamTimeout time.Duration
}

// Emulator is an in-memory Azure SignalR Service in serverless mode (or, with
// Options.ServiceMode, in Default mode without app servers). It is an
// http.Handler; create it with New and stop it with Close.
type Emulator struct {
	key             []byte
	accessKey       string
	log             *slog.Logger
	pingInterval    time.Duration
	clientTimeout   time.Duration
	queueSize       int
	reconnectWindow time.Duration
	replayLimit     int
	maxBody         int64
	now             func() time.Time
	pollTimeout     time.Duration
	serviceMode     string

	invokeTimeout time.Duration // see invoke.go
	upstream      *upstream     // nil without upstream settings (upstream.go)

	mu      sync.RWMutex
	hubs    map[string]*hub
	pending map[string]pendingConn
	// lastSweep is when expired pending tokens were last removed.
	lastSweep time.Time
	// httpConns holds the Server-Sent Events and long-polling connections
	// by connection token.
	httpConns map[string]*httpConn
	// resumable holds the stateful-reconnect WebSocket connections by
	// connection token.
	resumable map[string]*conn
	closed    bool
	wg        sync.WaitGroup
}

// pendingConn is a negotiated connection waiting for its WebSocket.
type pendingConn struct {
	hub     string
	user    string
	id      string
	expires time.Time
	// stateful: the client asked for stateful reconnect (WebSockets only).
	stateful bool
}

// New returns an Emulator configured by opts. It panics when
// opts.ServiceMode is not a mode ParseServiceMode accepts.
func New(opts Options) *Emulator {
	mode, err := ParseServiceMode(opts.ServiceMode)
	if err != nil {
		panic("emulator.New: " + err.Error())
	}
	e := &Emulator{
		serviceMode:     mode,
		accessKey:       opts.AccessKey,
		log:             opts.Logger,
		pingInterval:    opts.PingInterval,
		clientTimeout:   opts.ClientTimeout,
		reconnectWindow: opts.ReconnectWindow,
		replayLimit:     opts.StatefulReconnectBufferSize,
		resumable:       map[string]*conn{},
		queueSize:       opts.QueueSize,
		maxBody:         opts.MaxBodyBytes,
		now:             opts.Now,
		pollTimeout:     opts.PollTimeout,
		hubs:            map[string]*hub{},
		pending:         map[string]pendingConn{},
		httpConns:       map[string]*httpConn{},
	}
	e.invokeTimeout = opts.InvokeTimeout
	if e.accessKey == "" {
		e.accessKey = DefaultAccessKey
	}
	e.key = []byte(e.accessKey)
	if len(opts.Upstreams) > 0 {
		e.upstream = newUpstream(opts.Upstreams, e.accessKey, opts.UpstreamTimeout, e.log)
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.pingInterval <= 0 {
		e.pingInterval = DefaultPingInterval
	}
	switch {
	case e.clientTimeout == 0:
		e.clientTimeout = DefaultClientTimeout
	case e.clientTimeout < 0:
		e.clientTimeout = 0
	}
	if e.reconnectWindow <= 0 {
		e.reconnectWindow = DefaultReconnectWindow
	}
	if e.replayLimit <= 0 {
		e.replayLimit = DefaultStatefulReconnectBufferSize
	}
	if e.queueSize <= 0 {
		e.queueSize = DefaultQueueSize
	}
	if e.maxBody <= 0 {
		e.maxBody = DefaultMaxBodyBytes
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.pollTimeout <= 0 {
		e.pollTimeout = DefaultPollTimeout
	}
	return e
}

// ConnectionString returns the connection string a backend uses to reach
// the emulator served at baseURL (for example "http://127.0.0.1:8888" gives
// "Endpoint=http://127.0.0.1;Port=8888;AccessKey=…;Version=1.0;"). It
// contains the access key: print it only for local use.
func (e *Emulator) ConnectionString(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return "Endpoint=" + strings.TrimSuffix(baseURL, "/") + ";AccessKey=" + e.accessKey + ";Version=1.0;"
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	s := "Endpoint=" + u.Scheme + "://" + host + ";"
	if p := u.Port(); p != "" {
		s += "Port=" + p + ";"
	}
	return s + "AccessKey=" + e.accessKey + ";Version=1.0;"
}

// ConnectionStringPortInEndpoint is ConnectionString with the port inside
// Endpoint instead of a Port= key ("Endpoint=http://127.0.0.1:8888;AccessKey=…;Version=1.0;"),
// for parsers that ignore Port= (Dapr's SignalR binding and other
// hand-written ones, which would call port 80). The handler and the Azure
// SDKs accept both forms.
func (e *Emulator) ConnectionStringPortInEndpoint(baseURL string) string {
	return "Endpoint=" + strings.TrimSuffix(baseURL, "/") + ";AccessKey=" + e.accessKey + ";Version=1.0;"
}

// ServeHTTP serves the client endpoints (/client/negotiate, /client/) and
// the REST API (/api/...).
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if applyCORS(w, r) {
		return
	}
	p := r.URL.EscapedPath()
	switch {
	case p == "/client/negotiate" || p == "/client/negotiate/":
		e.handleNegotiate(w, r)
	case p == "/client" || p == "/client/":
		e.handleClient(w, r)
	case p == "/api" || strings.HasPrefix(p, "/api/"):
		e.handleREST(w, r)
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound, "", "no such endpoint: the emulator serves /client/negotiate, /client/ and /api/...")
	}
}

// Close disconnects every client (each receives a Close message) and makes
// the emulator refuse new connections. It waits up to a few seconds for the
// connections to finish.
func (e *Emulator) Close() error {
	e.mu.Lock()
	e.closed = true
	var all []*conn
	for _, h := range e.hubs {
		for _, c := range h.conns {
			all = append(all, c)
		}
	}
	for _, hc := range e.httpConns {
		all = append(all, hc.c) // also those still before their handshake
	}
	e.mu.Unlock()
	for _, c := range all {
		c.requestShutdownClose("the emulator is shutting down")
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	e.closeUpstream()
	return nil
}

// newID returns a random URL-safe identifier.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hubQuery returns the validated hub key from the ?hub= query.
func hubQuery(r *http.Request) (string, string) {
	vals := r.URL.Query()["hub"]
	if len(vals) != 1 {
		if len(vals) > 1 {
			return "", "the hub query parameter must appear once"
		}
		return "", "missing hub query parameter: use /client/?hub=<hub> (lower-cased, prefixed with <application>_ when an application name is set)"
	}
	if !validName(vals[0]) {
		return "", "invalid hub name: it must match ^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$"
	}
	return strings.ToLower(vals[0]), ""
}

// takePending consumes the negotiated connection of token for a transport
// request on hub key by user, checking that it was negotiated for that hub
// and by that user (a connection token is no bearer credential: presented
// with another user's access token it opens nothing, and stays usable by its
// owner). On failure status, code and msg describe the answer. e.mu must be
// held.
func (e *Emulator) takePending(token, key, user string) (pc pendingConn, status int, code, msg string) {
	pc, ok := e.pending[token]
	switch {
	case !ok || !e.now().Before(pc.expires):
		delete(e.pending, token)
		return pc, http.StatusNotFound, codeNegotiateTokenUnknown, "unknown or expired connection token: negotiate again (a token from /client/negotiate is valid for 30 s and for one connection)"
	case pc.hub != key:
		return pc, http.StatusNotFound, codeNegotiateTokenUnknown, fmt.Sprintf("the connection token was negotiated for hub %q, not %q", pc.hub, key)
	case pc.user != user:
		return pc, http.StatusForbidden, codeForbidden, "the connection token was negotiated by another user than the one the access token names: connect with the access token negotiate was called with"
	}
	delete(e.pending, token)
	return pc, 0, "", ""
}

// negotiateResponse is the negotiate answer. Version 0 has no
// connectionToken: the transports' id is the connection id.
type negotiateResponse struct {
	NegotiateVersion     int                  `json:"negotiateVersion"`
	ConnectionID         string               `json:"connectionId"`
	ConnectionToken      string               `json:"connectionToken,omitempty"`
	UseStatefulReconnect bool                 `json:"useStatefulReconnect,omitempty"`
	AvailableTransports  []availableTransport `json:"availableTransports"`
}

// negotiateVersion reads the client's negotiateVersion query as ASP.NET Core
// does (HttpConnectionDispatcher): absent means 0, a version above the
// server's (1) gets 1, and anything but an integer is an error.
func negotiateVersion(r *http.Request) (int, error) {
	s := r.URL.Query().Get("negotiateVersion")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("the client requested an invalid protocol version %q: negotiateVersion is 0 or 1", s)
	}
	return min(v, 1), nil
}

type availableTransport struct {
	Transport       string   `json:"transport"`
	TransferFormats []string `json:"transferFormats"`
}

// handleNegotiate serves POST /client/negotiate?hub=.
func (e *Emulator) handleNegotiate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		writeError(w, r, http.StatusMethodNotAllowed, codeMethodNotAllowed, "", "negotiate takes POST")
		return
	}
	key, msg := hubQuery(r)
	if msg != "" {
		writeError(w, r, http.StatusBadRequest, codeInvalidHubName, "hub", msg)
		return
	}
	raw := bearerToken(r, false)
	if raw == "" {
		writeUnauthorized(w, r, missingTokenMessage(false))
		return
	}
	p, err := e.validate(raw, checkClientAudience(r, key))
	if err != nil {
		writeUnauthorized(w, r, err.Error())
		return
	}
	version, err := negotiateVersion(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "negotiateVersion", err.Error())
		return
	}
	now := e.now()
	// Stateful reconnect needs the connection token (version 1).
	stateful := version > 0 && r.URL.Query().Get("useStatefulReconnect") == "true"
	pc := pendingConn{hub: key, user: p.user, id: newID(), expires: now.Add(negotiateTTL), stateful: stateful}
	// Version 0 has no separate token: the transports present the
	// connection id (ASP.NET Core, which Microsoft's emulator runs on).
	token := pc.id
	if version > 0 {
		token = newID()
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		writeError(w, r, http.StatusServiceUnavailable, codeUnavailable, "", "the emulator is shutting down")
		return
	}
	// Expired tokens are swept at most once a second: sweeping on every
	// negotiate made a storm of negotiations that do not connect (each
	// token lives 30 s) cost O(n²).
	if now.Sub(e.lastSweep) >= time.Second || now.Before(e.lastSweep) {
		e.lastSweep = now
		for t, old := range e.pending {
			if !now.Before(old.expires) {
				delete(e.pending, t)
			}
		}
	}
	e.pending[token] = pc
	e.mu.Unlock()
	e.log.Debug("emulator: negotiated", "hub", key, "connectionId", pc.id, "user", pc.user)
	resp := negotiateResponse{
		NegotiateVersion:    version,
		ConnectionID:        pc.id,
		AvailableTransports: availableTransports,
	}
	if version > 0 {
		resp.ConnectionToken = token
	}
	resp.UseStatefulReconnect = stateful
	writeJSON(w, resp)
}

// availableTransports is what negotiate offers, in the client's order of
// preference (the service's list). Server-Sent Events carry text only.
var availableTransports = []availableTransport{
	{Transport: "WebSockets", TransferFormats: []string{"Text", "Binary"}},
	{Transport: "ServerSentEvents", TransferFormats: []string{"Text"}},
	{Transport: "LongPolling", TransferFormats: []string{"Text", "Binary"}},
}

// remoteHost is for logs only.
func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}
