package signalr

import (
	"bytes"
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
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
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

	moduleName       = "signalr"
	moduleVersion    = "v0.1.0"
	maxResponseBody  = 1 << 20
	serverTokenTTL   = time.Hour
	defaultTryTimout = 10 * time.Second
)

// ClientOptions configures [NewClient]. The zero value is usable.
type ClientOptions struct {
	// Credential replaces the Entra ID credential derived from the
	// connection string (for example a fake in tests). Setting it switches
	// the client to Entra ID even for a connection string with an AccessKey.
	Credential azcore.TokenCredential
	// Transport replaces the default HTTP transport. An *http.Transport is
	// cloned and its TLS minimum raised to TLS 1.2; any other RoundTripper
	// is used as is.
	Transport http.RoundTripper
	// TLSConfig is cloned into the default transport (for example to add
	// RootCAs); MinVersion is raised to TLS 1.2.
	TLSConfig *tls.Config
	// Retry bounds retries; see [RetryOptions] for the rule.
	Retry RetryOptions
	// Breaker configures the circuit breaker.
	Breaker BreakerOptions
	// TryTimeout bounds one try (connect, write, wait for and read the
	// response); default 10s.
	TryTimeout time.Duration
	// Logger receives retries at Debug and breaker changes at Warn; default
	// slog.Default().
	Logger *slog.Logger
	// UserAgent is appended to the User-Agent and Asrs-User-Agent headers.
	UserAgent string
	// Now is the clock for token times, Retry-After dates and the access
	// key cache; default time.Now.
	Now func() time.Time
	// ServerName is the nameid claim of server tokens; default
	// "{hostname}_{32 random hex digits}".
	ServerName string
}

// Client calls the data-plane REST API of one Azure SignalR Service
// endpoint. Its methods are safe for concurrent use. Authentication is an
// HS256 server token signed with the AccessKey, fresh for every try, or,
// for Entra ID connection strings, the Entra ID access token itself.
type Client struct {
	cs         *ConnectionString
	serverBase string // ends in "/", port kept
	audBase    string // "{scheme}://{host}/", no port
	pl         runtime.Pipeline
	breaker    *breaker
	now        func() time.Time
	log        *slog.Logger
	serverName string
	userAgent  string
	entra      bool
	keys       *keyCache
}

// NewClient returns a client for the endpoint of cs. It makes no network
// call: with Entra ID the credential is created but asked for a token only
// by the first request.
func NewClient(cs *ConnectionString, opts *ClientOptions) (*Client, error) {
	if cs == nil || cs.Endpoint == nil {
		return nil, errors.New("signalr: NewClient: nil connection string")
	}
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
	if o.TryTimeout <= 0 {
		o.TryTimeout = defaultTryTimout
	}
	if o.ServerName == "" {
		o.ServerName = newServerName()
	}
	c := &Client{
		cs:         cs,
		serverBase: cs.ServerBase(),
		audBase:    cs.AudienceBase(),
		now:        o.Now,
		log:        o.Logger,
		serverName: o.ServerName,
		userAgent:  strings.TrimSpace("serverless-signalr-go/" + moduleVersion + " " + o.UserAgent),
	}
	serverURL, err := url.Parse(c.serverBase)
	if err != nil {
		return nil, errors.New("signalr: NewClient: invalid server endpoint")
	}

	var auth policy.Policy
	cred := o.Credential
	if cred == nil && cs.UsesEntraID() {
		if cred, err = NewCredential(cs); err != nil {
			return nil, err
		}
	}
	if cred != nil {
		c.entra = true
		auth = runtime.NewBearerTokenPolicy(cred, []string{EntraScope}, &policy.BearerTokenOptions{
			InsecureAllowCredentialWithHTTP: isLoopback(serverURL.Hostname()),
		})
	} else {
		if cs.AccessKey == "" {
			return nil, errors.New("signalr: NewClient: connection string has neither an AccessKey nor an Entra ID AuthType")
		}
		auth = keyPolicy{c: c}
	}

	rt, err := transport(o.Transport, o.TLSConfig)
	if err != nil {
		return nil, err
	}
	c.breaker = newBreaker(o.Breaker, c.serverBase, c.log)
	rp := &retryPolicy{
		opts:       o.Retry.withDefaults(),
		tryTimeout: o.TryTimeout,
		breaker:    c.breaker,
		endpoint:   c.serverBase,
		now:        c.now,
		log:        c.log,
	}
	c.pl = runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{
		PerCall:  []policy.Policy{rp},
		PerRetry: []policy.Policy{auth, policyFunc(networkMarker)},
	}, &policy.ClientOptions{
		Retry:     policy.RetryOptions{MaxRetries: -1}, // retryPolicy above does it
		Telemetry: policy.TelemetryOptions{Disabled: true},
		Transport: &limitedDoer{c: &http.Client{
			Transport: rt,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // never carry a token elsewhere
			},
		}},
	})
	if c.entra {
		c.keys = newKeyCache(c.fetchAccessKey, c.now, c.log)
	}
	return c, nil
}

// BreakerState returns the circuit breaker's state: "closed", "open" or
// "half-open" ("closed" when the breaker is disabled).
func (c *Client) BreakerState() string { return c.breaker.state() }

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

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// transport returns the HTTP transport: the caller's, with TLS 1.2 as the
// floor when it is an *http.Transport, or a default tuned for bursts.
func transport(rt http.RoundTripper, cfg *tls.Config) (http.RoundTripper, error) {
	if rt != nil {
		t, ok := rt.(*http.Transport)
		if !ok {
			return rt, nil
		}
		t = t.Clone()
		t.TLSClientConfig = tlsFloor(t.TLSClientConfig)
		return t, nil
	}
	return &http.Transport{
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
	}, nil
}

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
type limitedDoer struct{ c *http.Client }

func (d *limitedDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxResponseBody), resp.Body}
	return resp, nil
}

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }

// keyPolicy signs a fresh server token for every try (AccessKey mode).
type keyPolicy struct{ c *Client }

func (p keyPolicy) Do(req *policy.Request) (*http.Response, error) {
	var op opInfo
	req.OperationValue(&op)
	tok, err := GenerateAccessToken(AccessKey{Value: p.c.cs.AccessKey}, op.audience, &TokenOptions{
		Claims:   []Claim{{Type: "nameid", Value: p.c.serverName}},
		Lifetime: serverTokenTTL,
		Now:      p.c.now(),
	})
	if err != nil {
		return nil, err
	}
	req.Raw().Header.Set("Authorization", "Bearer "+tok)
	return req.Next()
}

// call describes one REST request.
type call struct {
	op         string
	method     string
	path       string     // after "api/", already escaped
	apiVersion string     // "" for none
	query      url.Values // extra query, not part of aud
	body       []byte     // JSON or nil
	send       bool
	ok         []int // success statuses
}

// do runs c through the pipeline. It returns the response when its status
// is one of call.ok, a *ResponseError for any other status, and the
// pipeline's typed error otherwise.
func (c *Client) do(ctx context.Context, k call) (*http.Response, error) {
	aud := c.audBase + "api/" + k.path
	u := c.serverBase + "api/" + k.path
	if k.apiVersion != "" {
		aud += "?api-version=" + k.apiVersion
		u += "?api-version=" + k.apiVersion
		if len(k.query) > 0 {
			u += "&" + k.query.Encode()
		}
	} else if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	req, err := runtime.NewRequest(ctx, k.method, u)
	if err != nil {
		return nil, &ArgumentError{Code: CodeInvalidMessage, Name: "request URL", Reason: "cannot be built", Err: err}
	}
	req.SetOperationValue(opInfo{name: k.op, send: k.send, audience: aud})
	h := req.Raw().Header
	h.Set("User-Agent", c.userAgent)
	h.Set("Asrs-User-Agent", c.userAgent)
	if k.body != nil {
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(k.body)), "application/json; charset=utf-8"); err != nil {
			return nil, err
		}
	}
	resp, err := c.pl.Do(req)
	if err != nil {
		return nil, err
	}
	if slices.Contains(k.ok, resp.StatusCode) {
		return resp, nil
	}
	return nil, c.responseError(k.op, resp)
}

func (c *Client) responseError(op string, resp *http.Response) *ResponseError {
	body, _ := runtime.Payload(resp)
	code, msg := parseErrorBody(body)
	if h := resp.Header.Get("x-ms-error-code"); h != "" {
		code = cleanText(h, 128)
	}
	return &ResponseError{
		Code:        codeForStatus(resp.StatusCode),
		StatusCode:  resp.StatusCode,
		ErrorCode:   code,
		Message:     msg,
		Endpoint:    c.serverBase,
		Operation:   op,
		RawResponse: resp,
	}
}
