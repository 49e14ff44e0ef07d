package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/signalr"
)

// Upstream: what the service does with client messages in serverless mode
// when upstream settings are configured (MicrosoftDocs/azure-docs
// articles/azure-signalr/concept-upstream.md; Microsoft's emulator,
// Azure/azure-signalr src/Microsoft.Azure.SignalR.Emulator Upstreams/ and
// HubEmulator/HttpServerlessMessageHandler.cs). The behaviour is
// re-implemented here, not copied.

// DefaultUpstreamTimeout bounds one upstream call when
// Options.UpstreamTimeout is zero.
const DefaultUpstreamTimeout = 20 * time.Second

// maxUpstreamAnswer bounds an upstream's answer, as Microsoft's emulator
// does (16 MB).
const maxUpstreamAnswer = 16 << 20

// maxNotedConns bounds the connections remembered for the upstream before
// the ones that never completed their handshake are dropped.
const maxNotedConns = 4096

// upstreamQueueSize bounds the calls waiting per connection; beyond it an
// invocation gets an error completion at once.
const upstreamQueueSize = 256

// UpstreamTemplate is one upstream setting, as in Microsoft's emulator's
// settings.json (UpstreamSettings.Templates) and the service's portal:
// calls go to the first template whose three patterns match. A pattern is
// "*", a comma-separated list of exact names, or one name; empty means "*".
// UrlTemplate may hold {hub}, {category} and {event}, replaced URI-escaped.
type UpstreamTemplate struct {
	UrlTemplate     string //nolint:revive // the settings file's spelling
	HubPattern      string
	CategoryPattern string
	EventPattern    string
}

// ReadUpstreamSettings reads the Templates of Microsoft's emulator's
// settings.json ({"UpstreamSettings":{"Templates":[…]}}, keys in any case).
func ReadUpstreamSettings(path string) ([]UpstreamTemplate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		UpstreamSettings struct {
			Templates []UpstreamTemplate
		}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s is not a settings.json: %v", path, err)
	}
	for i, t := range f.UpstreamSettings.Templates {
		if err := checkTemplate(t); err != nil {
			return nil, fmt.Errorf("%s: UpstreamSettings.Templates[%d]: %v", path, i, err)
		}
	}
	return f.UpstreamSettings.Templates, nil
}

// checkTemplate refuses a template whose URL can never be called.
func checkTemplate(t UpstreamTemplate) error {
	u, err := url.Parse(strings.NewReplacer("{hub}", "h", "{category}", "c", "{event}", "e").Replace(t.UrlTemplate))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("UrlTemplate %q is not an absolute http(s) URL", t.UrlTemplate)
	}
	return nil
}

// matchPattern reports whether name matches pattern (see UpstreamTemplate).
// Names are compared exactly, as Microsoft's emulator does.
func matchPattern(pattern, name string) bool {
	pattern = strings.TrimSpace(pattern)
	if pattern == "" || pattern == "*" {
		return true
	}
	for p := range strings.SplitSeq(pattern, ",") {
		if p = strings.TrimSpace(p); p == "*" || p == name {
			return true
		}
	}
	return false
}

// upstreamURL returns the URL of the first template matching the call, or
// "" when none does.
func upstreamURL(templates []UpstreamTemplate, hub, category, event string) string {
	for _, t := range templates {
		if matchPattern(t.HubPattern, hub) && matchPattern(t.CategoryPattern, category) && matchPattern(t.EventPattern, event) {
			return strings.NewReplacer("{hub}", url.PathEscape(hub), "{category}", url.PathEscape(category), "{event}", url.PathEscape(event)).Replace(t.UrlTemplate)
		}
	}
	return ""
}

// upstream delivers connection events and invocations of every connection
// in order, one worker per connection.
type upstream struct {
	templates []UpstreamTemplate
	key       string
	client    *http.Client
	timeout   time.Duration
	log       *slog.Logger

	mu    sync.Mutex
	conns map[string]*upstreamConn // by connection id
	wg    sync.WaitGroup
}

// upstreamConn is what the upstream needs of a connection beyond conn, and
// its queue of calls.
type upstreamConn struct {
	claims string // X-ASRS-User-Claims
	query  string // X-ASRS-Client-Query
	queue  chan upstreamCall
	once   sync.Once
	// started is set by the connected event (guarded by upstream.mu): a
	// connection that never completed its handshake sends no events.
	started bool
}

// upstreamCall is one POST to make.
type upstreamCall struct {
	c            *conn
	category     string
	event        string
	invocationID string
	contentType  string
	body         []byte
	last         bool // the disconnected event: the worker ends after it
}

func newUpstream(templates []UpstreamTemplate, key string, timeout time.Duration, log *slog.Logger) *upstream {
	if timeout <= 0 {
		timeout = DefaultUpstreamTimeout
	}
	return &upstream{
		templates: templates,
		key:       key,
		timeout:   timeout,
		log:       log,
		conns:     map[string]*upstreamConn{},
		client: &http.Client{
			Timeout:       timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// noteClient remembers the claims and query of the connection id that is
// about to be served (called with the client's transport request).
func (e *Emulator) noteClient(id string, r *http.Request, p principal) {
	u := e.upstream
	if u == nil {
		return
	}
	q := r.URL.Query()
	q.Del("access_token") // the client's token stays out of upstream requests and their logs
	q.Del("id")
	raw := ""
	if len(q) > 0 {
		raw = "?" + q.Encode()
	}
	uc := &upstreamConn{claims: claimsHeader(p.claims), query: raw, queue: make(chan upstreamCall, upstreamQueueSize)}
	u.mu.Lock()
	if old := u.conns[id]; old != nil {
		old.close()
	}
	if len(u.conns) >= maxNotedConns {
		// Connections whose handshake never completed are never
		// unregistered: forget them rather than grow without bound.
		for k, c := range u.conns {
			if !c.started {
				delete(u.conns, k)
			}
		}
	}
	u.conns[id] = uc
	u.mu.Unlock()
}

func (uc *upstreamConn) close() { uc.once.Do(func() { close(uc.queue) }) }

// claimsHeader formats the token's claims as X-ASRS-User-Claims ("type:
// value, …"), leaving out the token's own fields and the service's
// reserved asrs.s.* claims, in a stable order.
func claimsHeader(c jwt.MapClaims) string {
	var parts []string
	for k, v := range c {
		switch k {
		case "aud", "exp", "iat", "nbf", "iss", "jti":
			continue
		}
		if strings.HasPrefix(k, "asrs.s.") {
			continue
		}
		vals, ok := v.([]any)
		if !ok {
			vals = []any{v}
		}
		for _, x := range vals {
			parts = append(parts, k+": "+fmt.Sprint(x))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// upstreamConnected starts c's worker and queues the connected event.
func (e *Emulator) upstreamConnected(c *conn) {
	u := e.upstream
	if u == nil {
		return
	}
	u.mu.Lock()
	uc := u.conns[c.id]
	if uc == nil { // a connection the transport did not note (tests)
		uc = &upstreamConn{queue: make(chan upstreamCall, upstreamQueueSize)}
		u.conns[c.id] = uc
	}
	uc.started = true
	u.wg.Add(1)
	u.mu.Unlock()
	go u.work(uc)
	u.enqueue(uc, upstreamCall{c: c, category: signalr.UpstreamConnections, event: signalr.UpstreamConnected,
		contentType: signalr.ContentTypeJSON, body: []byte(`{"type":10}`)})
}

// upstreamDisconnected queues c's disconnected event, the worker's last.
func (e *Emulator) upstreamDisconnected(c *conn) {
	u := e.upstream
	if u == nil {
		return
	}
	u.mu.Lock()
	uc := u.conns[c.id]
	delete(u.conns, c.id)
	started := uc != nil && uc.started
	u.mu.Unlock()
	if !started {
		return
	}
	reason := ""
	select {
	case <-c.closing: // reason is set before closing is closed
		reason = c.reason
	default:
	}
	body, _ := json.Marshal(map[string]any{"type": 11, "error": reason})
	u.enqueue(uc, upstreamCall{c: c, category: signalr.UpstreamConnections, event: signalr.UpstreamDisconnected,
		contentType: signalr.ContentTypeJSON, body: body, last: true})
}

// upstreamInvocation hands a client's Invocation to the upstream. It
// reports false when no template matches, so the caller applies the
// no-upstream behaviour.
func (e *Emulator) upstreamInvocation(c *conn, m clientMessage) bool {
	u := e.upstream
	if u == nil || upstreamURL(u.templates, c.hub, signalr.UpstreamMessages, m.Target) == "" {
		return false
	}
	if m.Type != msgInvocation { // a StreamInvocation: only Invocations go upstream
		if m.InvocationID != "" {
			c.sendCompletion(m.InvocationID, nil, "streaming invocations are not forwarded to the upstream: only plain invocations are")
		}
		return true
	}
	u.mu.Lock()
	uc := u.conns[c.id]
	started := uc != nil && uc.started
	u.mu.Unlock()
	if !started {
		return false
	}
	ct := signalr.ContentTypeJSON
	if m.Protocol == protoMsgpack {
		ct = signalr.ContentTypeMessagePack
	}
	call := upstreamCall{c: c, category: signalr.UpstreamMessages, event: m.Target, invocationID: m.InvocationID,
		contentType: ct, body: slices.Clone(m.Raw)} // m.Raw aliases the read buffer
	if !u.enqueue(uc, call) && m.InvocationID != "" {
		c.sendCompletion(m.InvocationID, nil, "Invocation failed: the emulator has more than "+strconv.Itoa(upstreamQueueSize)+" calls of this connection waiting for the upstream")
	}
	return true
}

// enqueue queues call without blocking; false when the queue is full or
// closed.
func (u *upstream) enqueue(uc *upstreamConn, call upstreamCall) (ok bool) {
	defer func() {
		if recover() != nil { // queue closed: a replaced connection id
			ok = false
		}
	}()
	select {
	case uc.queue <- call:
		if call.last {
			uc.close()
		}
		return true
	default:
		u.log.Warn("emulator: upstream queue full, call dropped", "connection", call.c.id, "category", call.category, "event", call.event)
		if call.last {
			uc.close()
		}
		return false
	}
}

func (u *upstream) work(uc *upstreamConn) {
	defer u.wg.Done()
	for call := range uc.queue {
		u.deliver(uc, call)
	}
}

// closeUpstream waits, within the upstream timeout, for the workers: they
// end with their connection's disconnected event, which Close causes.
func (e *Emulator) closeUpstream() {
	u := e.upstream
	if u == nil {
		return
	}
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(u.timeout):
	}
}

// deliver POSTs call and handles the answer: an invocation with an id gets
// the upstream's completion relayed as is, an empty completion for an
// empty 200 or a 204, and an error completion otherwise. Every failure is
// logged with its likely cause.
func (u *upstream) deliver(uc *upstreamConn, call upstreamCall) {
	c := call.c
	target := upstreamURL(u.templates, c.hub, call.category, call.event)
	if target == "" {
		u.log.Debug("emulator: upstream for this event is not set, ignore the event", "hub", c.hub, "category", call.category, "event", call.event)
		return
	}
	answer := func(errMsg string) {
		if call.invocationID != "" {
			c.sendCompletion(call.invocationID, nil, errMsg)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(call.body))
	if err != nil {
		u.log.Warn("emulator: upstream URL invalid", "url", redactURL(target), "error", err)
		answer("Invocation failed: the upstream URL is invalid")
		return
	}
	h := req.Header
	h.Set("Content-Type", call.contentType)
	h.Set(signalr.HeaderUpstreamConnectionID, c.id)
	h.Set(signalr.HeaderUpstreamHub, c.hub)
	h.Set(signalr.HeaderUpstreamCategory, call.category)
	h.Set(signalr.HeaderUpstreamEvent, call.event)
	h.Set(signalr.HeaderUpstreamSignature, signalr.UpstreamSignature(c.id, u.key))
	if c.user != "" {
		h.Set(signalr.HeaderUpstreamUserID, c.user)
	}
	if uc.claims != "" {
		h.Set(signalr.HeaderUpstreamUserClaims, uc.claims)
	}
	if uc.query != "" {
		h.Set(signalr.HeaderUpstreamClientQuery, uc.query)
	}
	start := time.Now()
	resp, err := u.client.Do(req)
	attrs := []any{"url", redactURL(target), "connection", c.id, "category", call.category, "event", call.event}
	if err != nil {
		why := "the upstream could not be reached"
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			why = "the upstream did not answer within " + u.timeout.String()
		case strings.Contains(err.Error(), "connection refused"):
			why = "the upstream refused the connection: is the handler running (make dev, func start) on that port?"
		}
		u.log.Warn("emulator: upstream call failed: "+why, append(attrs, "error", err.Error())...)
		answer("Invocation failed: " + why)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamAnswer+1))
	attrs = append(attrs, "status", resp.StatusCode, "ms", time.Since(start).Milliseconds())
	switch {
	case err != nil:
		u.log.Warn("emulator: upstream answer could not be read", append(attrs, "error", err.Error())...)
		answer("Invocation failed: the upstream's answer could not be read")
		return
	case len(body) > maxUpstreamAnswer:
		u.log.Warn("emulator: upstream answer larger than 16 MB, dropped", attrs...)
		answer("Invocation failed: the upstream's answer is larger than 16 MB")
		return
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		u.log.Warn("emulator: upstream answered "+strconv.Itoa(resp.StatusCode)+": "+statusCause(resp.StatusCode), append(attrs, "body", clipBody(body))...)
		answer("Invocation failed, status code " + strconv.Itoa(resp.StatusCode))
		return
	}
	if call.invocationID == "" {
		u.log.Debug("emulator: upstream call done", attrs...)
		return
	}
	if resp.StatusCode == http.StatusNoContent || len(body) == 0 {
		c.sendCompletion(call.invocationID, nil, "")
		return
	}
	proto := signalr.ProtocolJSON
	if c.proto == protoMsgpack {
		proto = signalr.ProtocolMessagePack
	}
	comp, err := signalr.ParseCompletion(proto, body)
	switch {
	case err != nil:
		u.log.Warn("emulator: the upstream's answer is not a framed "+proto+" Completion: "+err.Error(), append(attrs, "body", clipBody(body))...)
		answer("Invocation failed: the upstream's answer is not a completion")
	case comp.InvocationID != call.invocationID:
		u.log.Warn("emulator: the upstream's completion answers another invocation", append(attrs, "want", call.invocationID, "got", comp.InvocationID)...)
		answer("Invocation failed: the upstream's completion answers invocation " + strconv.Quote(comp.InvocationID))
	default:
		c.sendFramed(body) // relayed byte for byte, as the service does
	}
}

// statusCause names the usual reason an upstream answers status.
func statusCause(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "the upstream refused the signature: its AccessKey differs from the emulator's -key"
	case http.StatusNotFound:
		return "wrong route in the upstream URL, a hub or event nobody handles, or (in Azure) a missing ?code= function key"
	case http.StatusUnsupportedMediaType:
		return "the upstream does not accept this hub protocol's content type"
	case http.StatusForbidden:
		return "the upstream's authorization refused the call"
	}
	if status >= 500 {
		return "the upstream failed; see its log"
	}
	return "the upstream refused the call"
}

// redactURL drops the query (function keys travel in ?code=).
func redactURL(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i] + "?…"
	}
	return s
}

func clipBody(b []byte) string {
	const n = 300
	if len(b) > n {
		b = b[:n]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// UpstreamFlags returns the templates of the command line: one matching
// everything for urlTemplate (-upstream), then those of the settings.json
// at configPath (-config). Either may be empty.
func UpstreamFlags(urlTemplate, configPath string) ([]UpstreamTemplate, error) {
	var ts []UpstreamTemplate
	if urlTemplate != "" {
		t := UpstreamTemplate{UrlTemplate: urlTemplate}
		if err := checkTemplate(t); err != nil {
			return nil, fmt.Errorf("-upstream: %v", err)
		}
		ts = append(ts, t)
	}
	if configPath != "" {
		more, err := ReadUpstreamSettings(configPath)
		if err != nil {
			return nil, fmt.Errorf("-config: %v", err)
		}
		ts = append(ts, more...)
	}
	return ts, nil
}
