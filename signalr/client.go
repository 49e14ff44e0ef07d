package signalr

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/serverless-signalr/functions-go/internal/netutil"
	"github.com/serverless-signalr/functions-go/internal/textutil"
)

const (
	// APIVersion is the data-plane REST API version the client speaks.
	APIVersion = "2022-06-01"
	// tokenAPIVersion is the first version with POST …/:generateToken.
	tokenAPIVersion = "2023-07-01"
	// EntraScope is the OAuth scope of Entra ID tokens for the service.
	EntraScope = "https://signalr.azure.com/.default"
	// MaxPayloadSize is the largest message body the REST API accepts.
	MaxPayloadSize = 1 << 20

	moduleName        = "signalr"
	moduleVersion     = "v0.1.0"
	maxResponseBody   = 1 << 20
	serverTokenTTL    = time.Hour
	defaultTryTimeout = 10 * time.Second
)

// ClientOptions configures a [Client]. The zero value is usable.
//
// From the embedded [azcore.ClientOptions] the client uses Retry (see the
// package's retry rule: MaxRetries, TryTimeout, RetryDelay and MaxRetryDelay
// apply; StatusCodes and ShouldRetry are ignored, because which failures
// may be retried depends on the operation), Transport, Telemetry's
// ApplicationID, PerCallPolicies, PerRetryPolicies, Logging and, with
// Microsoft Entra ID, InsecureAllowCredentialWithHTTP (an AccessKey client
// sends its server token to any endpoint it is given). APIVersion is
// ignored: the api-version is part of each request's token audience and
// fixed per operation. Cloud and TracingProvider are ignored: the endpoint
// is explicit, and the client starts no spans.
//
// A client sends its requests one of two ways, with the same retry rule,
// circuit breaker and typed errors. With Microsoft Entra ID it uses
// azcore's pipeline, whose bearer token policy authorizes each try. An
// AccessKey client sends directly over its transport, with a quarter of
// the allocations and less latency per call (BenchmarkSendToAll), unless
// it is given PerCallPolicies, PerRetryPolicies or a Logging option
// (IncludeBody, AllowedHeaders, AllowedQueryParams): any of them selects
// the pipeline, the only place where they take effect. The direct path honours every
// other option above; what only azcore's own policies do is absent from
// it: azcore's log events (package azcore/log; set a Logging option to get
// them) and the context values those policies read (policy.WithHTTPHeader,
// policy.WithCaptureResponse, a tracer put there by runtime.StartSpan).
//
// Without a Transport, a client speaks HTTP/1.1 over keep-alive
// connections that the calling goroutine writes and reads itself (as the
// Management SDK's HttpClient speaks HTTP/1.1 by default): no hand-off to
// a connection's own goroutines, so fewer thread wake-ups per call. It
// keeps up to 64 idle connections for 90 s, checks an idle connection
// before reusing it, and follows no redirect. When the environment names
// a proxy for the endpoint (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), net/http's
// transport is used instead; so is any *http.Client given as Transport
// (for HTTP/2, for example).
type ClientOptions struct {
	azcore.ClientOptions

	// RetryBudget bounds a whole call including retries and delays; default
	// 30s. Each try is also bounded by Retry.TryTimeout (default 10s).
	RetryBudget time.Duration
	// Breaker configures the circuit breaker.
	Breaker BreakerOptions
	// TLSConfig is cloned into the default transport (for example to add
	// RootCAs); MinVersion is raised to TLS 1.2. When Transport is an
	// *http.Client whose Transport is an *http.Transport, that transport is
	// cloned and its TLS minimum raised the same way; any other Transporter
	// is used as is.
	TLSConfig *tls.Config
	// Logger receives retries at Debug and breaker changes at Warn; default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock for token times and the access key cache; default
	// time.Now.
	Now func() time.Time
	// ServerName is the nameid claim of server tokens; default
	// "{hostname}_{32 random hex digits}".
	ServerName string
	// Application, when set, is the application name every call passes as
	// the application query parameter (the service then addresses hub
	// "{application}_{hub}"); the newest operations can override it per
	// call. It must match the hub-name pattern (see client_newest.go).
	Application string
}

// Defaults that differ from azcore's: a broadcast should not wait 800ms
// before its first retry.
const (
	defaultMaxRetries    = 2
	defaultRetryDelay    = 200 * time.Millisecond
	defaultMaxRetryDelay = 5 * time.Second
	defaultRetryBudget   = 30 * time.Second
)

// Client calls the data-plane REST API of one Azure SignalR Service
// endpoint. Its methods are safe for concurrent use. Authentication is an
// HS256 server token signed with the AccessKey (reused per request URL
// until ten minutes before it expires), or, with Microsoft Entra ID, the
// Entra ID access token itself. An AccessKey client sends directly over
// its transport, an Entra ID client through azcore's pipeline (see
// [ClientOptions] for when an AccessKey client uses the pipeline too).
type Client struct {
	serverBase string // ends in "/", port kept
	audBase    string // "{scheme}://{host}/", no port
	https      bool   // serverBase is https
	pl         runtime.Pipeline
	direct     bool               // AccessKey mode without the pipeline (see doDirect)
	oneWrite   bool               // the transport counts written bytes: one write per request (wire.go)
	transport  policy.Transporter // the direct path's (the pipeline's too)
	uaHeader   []string           // {userAgent}
	breaker    *breaker
	now        func() time.Time
	log        *slog.Logger
	serverName string
	userAgent  string
	key        AccessKey  // AccessKey mode
	fixedKey   *keyEntry  // AccessKey mode: the key with its prepared signer
	tokens     tokenCache // AccessKey mode: server tokens per audience
	entra      bool
	keys       *keyCache // Entra ID mode
	retry      policy.RetryOptions
	budget     time.Duration
	app        string // ClientOptions.Application
}

// NewClient returns a client for the service at endpoint (for example
// "https://NAME.service.signalr.net") that authenticates with a Microsoft
// Entra ID credential (scope [EntraScope]). It makes no network call: the
// credential is asked for a token by the first request.
func NewClient(endpoint string, credential azcore.TokenCredential, options *ClientOptions) (*Client, error) {
	if credential == nil {
		return nil, errors.New("signalr: NewClient: nil credential")
	}
	ep, ok := parseEndpoint(strings.TrimRight(endpoint, "/"))
	if !ok {
		return nil, errors.New("signalr: NewClient: the endpoint is not an absolute http or https URL")
	}
	return newClient(&ConnectionString{Endpoint: ep, AuthType: AuthTypeAzure}, credential, options)
}

// NewClientFromConnectionString returns a client for the service a
// connection string names ([ParseConnectionString]): it signs server tokens
// with the AccessKey, or, with an AuthType, uses the Microsoft Entra ID
// credential [NewCredential] derives from it. It makes no network call.
// A parse error is a *[ConnectionStringError].
func NewClientFromConnectionString(connectionString string, options *ClientOptions) (*Client, error) {
	cs, err := ParseConnectionString(connectionString)
	if err != nil {
		return nil, err
	}
	var cred azcore.TokenCredential
	if cs.UsesEntraID() {
		if cred, err = NewCredential(cs); err != nil {
			return nil, err
		}
	}
	return newClient(cs, cred, options)
}

// newClient builds the client for cs; a nil cred means AccessKey mode.
func newClient(cs *ConnectionString, cred azcore.TokenCredential, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ServerName == "" {
		o.ServerName = newServerName()
	}
	if o.RetryBudget <= 0 {
		o.RetryBudget = defaultRetryBudget
	}
	r := o.Retry
	if r.MaxRetries == 0 {
		r.MaxRetries = defaultMaxRetries
	}
	if r.TryTimeout <= 0 {
		r.TryTimeout = defaultTryTimeout
	}
	if r.RetryDelay == 0 {
		r.RetryDelay = defaultRetryDelay
	}
	if r.MaxRetryDelay == 0 {
		r.MaxRetryDelay = defaultMaxRetryDelay
	}
	r.ShouldRetry = nil
	ua := "serverless-signalr-go/" + moduleVersion
	if id := o.Telemetry.ApplicationID; id != "" {
		ua = id + " " + ua
	}
	c := &Client{
		serverBase: cs.ServerBase(),
		audBase:    cs.AudienceBase(),
		now:        o.Now,
		log:        o.Logger,
		serverName: o.ServerName,
		userAgent:  ua,
		uaHeader:   []string{ua},
		retry:      r,
		budget:     o.RetryBudget,
	}
	if o.Application != "" {
		if err := ValidateHubName(o.Application); err != nil {
			return nil, &ArgumentError{Name: ArgApplication, Reason: "is not a valid application name", Err: err}
		}
		c.app = o.Application
	}
	serverURL, err := url.Parse(c.serverBase)
	if err != nil {
		return nil, errors.New("signalr: invalid server endpoint")
	}
	c.https = serverURL.Scheme == "https"

	var auth policy.Policy
	if cred != nil {
		c.entra = true
		auth = runtime.NewBearerTokenPolicy(cred, []string{EntraScope}, &policy.BearerTokenOptions{
			InsecureAllowCredentialWithHTTP: o.InsecureAllowCredentialWithHTTP || netutil.IsLoopback(serverURL.Hostname()),
		})
	} else {
		if cs.AccessKey == "" {
			return nil, errors.New("signalr: the connection string has neither an AccessKey nor an Entra ID AuthType")
		}
		c.key = AccessKey{Value: cs.AccessKey}
		if c.fixedKey, err = newKeyEntry(c.key, time.Time{}); err != nil {
			return nil, err
		}
		auth = keyPolicy{c: c}
	}

	tr, counted, err := transporter(o.Transport, o.TLSConfig, serverURL)
	if err != nil {
		return nil, err
	}
	c.oneWrite = counted
	c.breaker = newBreaker(o.Breaker, c.serverBase, c.log)
	c.transport = tr
	if !usesPipeline(c.entra, &o.ClientOptions) {
		c.direct = true
		return c, nil
	}
	co := o.ClientOptions
	co.APIVersion = ""
	co.Retry = r
	co.Telemetry = policy.TelemetryOptions{Disabled: true} // User-Agent is set per request
	co.Transport = tr
	c.pl = runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{
		PerCall:  []policy.Policy{policyFunc(c.callPolicy)},
		PerRetry: []policy.Policy{policyFunc(c.tryPolicy), auth, policyFunc(networkMarker)},
	}, &co)
	if c.entra {
		c.keys = newKeyCache(c.fetchAccessKey, c.now, c.log)
	}
	return c, nil
}

// BreakerState returns the state of the circuit breaker ([BreakerClosed]
// when the breaker is disabled).
func (c *Client) BreakerState() BreakerState { return c.breaker.current() }

// Endpoint returns the server base URL the client calls (no secrets).
func (c *Client) Endpoint() string { return c.serverBase }

// newServerName returns "{hostname}_{32 random hex digits}", the nameid of
// server tokens, like the SDK's "{MachineName}_{Guid:N}".
func newServerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return host + "_" + hex.EncodeToString(b[:])
}

// transporter returns the transport: the caller's (an *http.Client's
// *http.Transport cloned with TLS 1.2 as the floor), or the client's own
// HTTP/1.1 transport (h1.go), or, when the environment names a proxy for
// endpoint, net/http's transport tuned for bursts. Redirects are never
// followed, so a token never goes elsewhere, and response bodies are
// bounded.
//
// counted reports whether the transport's connections count the bytes
// written (wire.go), so that a request may go out in one write.
func transporter(t policy.Transporter, cfg *tls.Config, endpoint *url.URL) (_ policy.Transporter, counted bool, _ error) {
	var hc http.Client
	switch v := t.(type) {
	case nil:
		if proxy, err := proxyFor(&http.Request{URL: endpoint}); err == nil && proxy == nil {
			return &limitedDoer{newH1Transport(cfg)}, true, nil
		}
		ht := &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   5 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       tlsFloor(cfg),
		}
		countWrites(ht)
		hc.Transport, counted = ht, true
	case *http.Client:
		hc = *v
		if ht, ok := hc.Transport.(*http.Transport); ok {
			ht = ht.Clone()
			ht.TLSClientConfig = tlsFloor(ht.TLSClientConfig)
			countWrites(ht)
			hc.Transport, counted = ht, true
		}
	default:
		return &limitedDoer{t}, false, nil
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &limitedDoer{&hc}, counted, nil
}

// proxyFor is the environment's proxy rule (a variable for tests: net/http
// reads the environment once per process).
var proxyFor = http.ProxyFromEnvironment

// tlsFloor returns a copy of cfg with MinVersion at least TLS 1.2.
func tlsFloor(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if cfg.MaxVersion != 0 && cfg.MaxVersion < tls.VersionTLS12 {
		cfg.MaxVersion = tls.VersionTLS12
	}
	return cfg
}

// limitedDoer sends requests and bounds the response body it will read.
type limitedDoer struct{ t policy.Transporter }

func (d *limitedDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.t.Do(req)
	if err != nil || resp.Body == http.NoBody {
		return resp, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxResponseBody), resp.Body}
	return resp, nil
}

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }

// keyPolicy authorizes each try of the pipeline path with the server
// token of serverAuth (AccessKey mode).
type keyPolicy struct{ c *Client }

func (p keyPolicy) Do(req *policy.Request) (*http.Response, error) {
	var op opInfo
	req.OperationValue(&op)
	h, err := p.c.serverAuth(op.audience)
	if err != nil {
		return nil, err
	}
	req.Raw().Header["Authorization"] = h
	return req.Next()
}

// serverTokenReuse is how long before its expiry a cached server token is
// replaced; serverTokenCacheSize bounds the cache (audiences include user,
// group and connection ids), which is emptied when full.
const (
	serverTokenReuse     = 10 * time.Minute
	serverTokenCacheSize = 4096
)

type cachedToken struct {
	header []string // {"Bearer …"}, shared by the requests that send it
	exp    time.Time
}

// tokenCache maps audiences to cached server tokens.
type tokenCache struct {
	m atomic.Pointer[sync.Map]
	n atomic.Int64
}

func (t *tokenCache) get(aud string, now time.Time) ([]string, bool) {
	m := t.m.Load()
	if m == nil {
		return nil, false
	}
	v, ok := m.Load(aud)
	if !ok {
		return nil, false
	}
	ct := v.(*cachedToken)
	return ct.header, now.Before(ct.exp.Add(-serverTokenReuse))
}

func (t *tokenCache) put(aud string, ct *cachedToken) {
	m := t.m.Load()
	if m == nil || t.n.Load() >= serverTokenCacheSize {
		m = new(sync.Map)
		t.m.Store(m)
		t.n.Store(0)
	}
	if _, loaded := m.Swap(aud, ct); !loaded {
		t.n.Add(1)
	}
}

// serverAuth returns the Authorization header value of a request to aud
// (AccessKey mode): a server token signed with the client's prepared
// Signer, reused per audience until serverTokenReuse before it expires
// (the audience is the request URL, so a token fits exactly one path and
// api-version). The slice is shared: set it in a header, never modify it.
func (c *Client) serverAuth(aud string) ([]string, error) {
	now := c.now()
	if h, ok := c.tokens.get(aud, now); ok {
		return h, nil
	}
	tok, err := c.fixedKey.signer.Sign(aud, &TokenOptions{
		Claims:   []Claim{{Type: "nameid", Value: c.serverName}},
		Lifetime: serverTokenTTL,
		Now:      now,
	})
	if err != nil {
		return nil, err
	}
	h := []string{"Bearer " + tok}
	c.tokens.put(aud, &cachedToken{header: h, exp: now.Add(serverTokenTTL)})
	return h, nil
}

// call describes one REST request. It is how every operation talks to the
// service: an operation validates its arguments (path() builds and escapes
// "hubs/{hub}/…" and returns *ArgumentError), fills a call and passes it to
// [Client.do], which signs, retries (per the package's retry rule), feeds
// the circuit breaker and turns failures into the package's typed errors.
// An operation that sends a message sets send, which forbids retries that
// could deliver it twice.
type call struct {
	op          string        // the method name, e.g. "SendToAll", for errors and logs
	method      string        // HTTP method
	path        string        // after "api/", already escaped
	apiVersion  string        // "" for none; part of the token audience
	query       url.Values    // extra query, not part of aud
	body        []byte        // JSON (or contentType) or nil
	contentType string        // the body's media type; JSON when empty
	send        bool          // a non-idempotent send (see the retry rule)
	probe       bool          // a health probe (bypasses the breaker)
	ok          []int         // success statuses
	app         string        // application, validated; "" means the client's
	timeout     time.Duration // per-try timeout when > 0 (an :invoke waits for a client)
}

// jsonContentType is the Content-Type of JSON bodies.
var jsonContentType = []string{"application/json; charset=utf-8"}

// do sends k, on the direct path (doDirect) or through the pipeline. It
// returns the response when its status is one of k.ok (its body already
// read; use runtime.UnmarshalAsJSON), a *[ResponseError] for any other
// status, and a *[ConnectionError] or *[CircuitOpenError] when there was
// no response.
func (c *Client) do(ctx context.Context, k call) (*http.Response, error) {
	// The audience is the URL without its port and without k.query; each
	// is built in one concatenation.
	var aud string
	if app := cmp.Or(k.app, c.app); app != "" && k.apiVersion != "" {
		// As the .NET SDK signs it: "?application=…&api-version=…".
		aud = c.audBase + "api/" + k.path + "?application=" + url.QueryEscape(app) + "&api-version=" + k.apiVersion
	} else if k.apiVersion != "" {
		aud = c.audBase + "api/" + k.path + "?api-version=" + k.apiVersion
	} else {
		aud = c.audBase + "api/" + k.path
	}
	u := c.serverBase + aud[len(c.audBase):]
	if len(k.query) > 0 {
		sep := "&"
		if k.apiVersion == "" {
			sep = "?"
		}
		u += sep + k.query.Encode()
	}
	op := opInfo{name: k.op, send: k.send, probe: k.probe, audience: aud, timeout: k.timeout}
	var (
		resp *http.Response
		err  error
	)
	if c.direct {
		resp, err = c.doDirectCall(ctx, k, op, u)
	} else {
		resp, err = c.doPipeline(ctx, k, op, u)
	}
	if err != nil {
		return nil, err
	}
	if slices.Contains(k.ok, resp.StatusCode) {
		return resp, nil
	}
	return nil, c.responseError(k, resp)
}

// doDirectCall prepares k's request for doDirect: method, URL and headers
// (pre-built values set straight into the map), authorized once for all
// its tries.
func (c *Client) doDirectCall(ctx context.Context, k call, op opInfo, u string) (*http.Response, error) {
	base, err := http.NewRequestWithContext(ctx, k.method, u, nil)
	if err != nil {
		return nil, &ArgumentError{Name: "request URL", Reason: "cannot be built", Err: err}
	}
	st := &callState{caller: ctx, op: op, base: base}
	auth, err := c.serverAuth(op.audience)
	if err != nil {
		return nil, c.connError(st, ConnectionCredential, false, err)
	}
	h := base.Header
	h["User-Agent"] = c.uaHeader
	h["Asrs-User-Agent"] = c.uaHeader
	h["Authorization"] = auth
	if k.body != nil {
		h["Content-Type"] = jsonContentType
		if k.contentType != "" {
			h["Content-Type"] = []string{k.contentType}
		}
		st.body, st.getBody = k.body, bodyOf(k.body, c.oneWrite)
	}
	return c.doDirect(st)
}

// doPipeline sends k through azcore's pipeline.
func (c *Client) doPipeline(ctx context.Context, k call, op opInfo, u string) (*http.Response, error) {
	req, err := runtime.NewRequest(ctx, k.method, u)
	if err != nil {
		return nil, &ArgumentError{Name: "request URL", Reason: "cannot be built", Err: err}
	}
	req.SetOperationValue(op)
	h := req.Raw().Header
	h["User-Agent"] = c.uaHeader
	h["Asrs-User-Agent"] = c.uaHeader
	if k.body != nil {
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(k.body)), cmp.Or(k.contentType, jsonContentType[0])); err != nil {
			return nil, err
		}
	}
	return c.pl.Do(req)
}

// responseError wraps azcore's error for resp with the service's message.
func (c *Client) responseError(k call, resp *http.Response) *ResponseError {
	body, _ := runtime.Payload(resp)
	_, msg := parseErrorBody(body)
	var ae *azcore.ResponseError
	if !errors.As(runtime.NewResponseError(resp), &ae) {
		ae = &azcore.ResponseError{StatusCode: resp.StatusCode, RawResponse: resp}
	}
	ae.ErrorCode = textutil.Clean(ae.ErrorCode, 128)
	return &ResponseError{ResponseError: ae, Message: msg, Endpoint: c.serverBase, Operation: k.op, send: k.send}
}
