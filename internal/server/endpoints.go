package server

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// endpoint is one Azure SignalR Service instance.
type endpoint struct {
	name    string
	primary bool
	cs      *signalr.ConnectionString
	client  *signalr.Client
	// hubs holds, per lower-cased allowed hub, the negotiate response's url
	// as a JSON string literal and the client token audience: both are
	// fixed by configuration, so they are built once.
	hubs map[string]hubTarget

	// keyUsed is set by the first negotiate: from then on the key is kept
	// fresh in the background (see endpointSet.Start).
	keyUsed atomic.Bool

	// healthy is the last verdict on the endpoint (true until a probe says
	// otherwise): a health probe's, or a successful REST call's, which
	// closes an unhealthy state at once. verdictAt is when it was reached
	// (Unix nanoseconds, 0 before the first); probeErr and probeReason say
	// why it is unhealthy, verdictBy whether a "probe" or a "call" decided.
	healthy     atomic.Bool
	verdictAt   atomic.Int64
	mu          sync.Mutex
	verdictBy   string
	probeErr    string
	probeReason string
}

type hubTarget struct {
	urlJSON  []byte // "\"http://…/client/?hub=chat\""
	audience string
}

// signer returns the prepared signer of client tokens: for the AccessKey,
// or with Microsoft Entra ID for the key fetched from the service (the
// first call waits for it; later calls read it without a lock and never
// block on a refresh).
func (e *endpoint) signer(ctx context.Context) (*signalr.Signer, error) {
	if !e.keyUsed.Load() {
		e.keyUsed.Store(true)
	}
	return e.client.Signer(ctx)
}

// record stores a verdict on e and logs a change of health.
func (e *endpoint) record(err error, by string, log *slog.Logger) {
	was := e.healthy.Swap(err == nil)
	e.mu.Lock()
	e.verdictAt.Store(time.Now().UnixNano())
	e.verdictBy, e.probeErr, e.probeReason = by, "", ""
	var code string
	if err != nil {
		ae := apperr.FromSignalR(err)
		code = ae.Code
		e.probeErr, e.probeReason = code, textutil.Truncate(ae.Message, 300)
	}
	e.mu.Unlock()
	if was != (err == nil) {
		log.Warn("endpoint health changed", "endpoint", e.name, "healthy", err == nil, "by", by, "code", code)
	}
}

// callSucceeded notes a successful REST call: it ends an unhealthy verdict
// at once, and otherwise only refreshes the verdict's time (no lock).
func (e *endpoint) callSucceeded(log *slog.Logger) {
	if !e.healthy.Load() {
		e.record(nil, "call", log)
		return
	}
	e.verdictAt.Store(time.Now().UnixNano())
}

// verdictAge is how old e's verdict is; ok is false before the first.
func (e *endpoint) verdictAge(now time.Time) (time.Duration, bool) {
	at := e.verdictAt.Load()
	if at == 0 {
		return 0, false
	}
	return now.Sub(time.Unix(0, at)), true
}

// usable reports whether negotiate may send clients to e: its last health
// probe passed and its circuit breaker is not open.
func (e *endpoint) usable() bool {
	return e.healthy.Load() && e.client.BreakerState() != signalr.BreakerOpen
}

// endpointSet is every configured endpoint and the choice among them.
type endpointSet struct {
	list     []*endpoint
	log      *slog.Logger
	interval time.Duration // health probes
	keyEvery time.Duration // key freshness checks
	cancel   context.CancelFunc
	done     chan struct{}
}

// keyCheckInterval is how often a used signing key is looked at: under
// Microsoft Entra ID the lookup starts the background refresh the key
// cache schedules (55 minutes after a fetch), so an idle handler still has
// a fresh key when the next client negotiates. With an AccessKey it costs
// nothing.
const keyCheckInterval = time.Minute

func validateHub(h string) error { return signalr.ValidateHubName(h) }

// connStrError turns the SDK's connection-string error into the app's
// config.connection_string.* error, naming the setting.
func connStrError(setting string, err error) error {
	e := apperr.FromSignalR(err)
	e.Message = setting + ": " + e.Message
	return e
}

// endpointSetting is one endpoint as configured, before parsing.
type endpointSetting struct {
	name, setting string
	primary       bool
	connStr       string            // a connection string, or
	identity      map[string]string // identity-based properties (serviceUri, credential, clientId, …)
	err           error             // the setting's name is malformed
}

const (
	singleSetting   = "AzureSignalRConnectionString"
	endpointsPrefix = "Azure__SignalR__Endpoints__"
)

// collectEndpointSettings reads the endpoint settings from environ:
// AzureSignalRConnectionString (a connection string, or identity-based
// AzureSignalRConnectionString__serviceUri/__credential/__clientId/…), and
// the extension's multiple-endpoint form
// Azure__SignalR__Endpoints__<name>[__primary|__secondary][__<property>].
// The single setting and the multiple-endpoint settings may be combined,
// as in the extension. "default" comes first, then the others by name.
func collectEndpointSettings(environ []string) []endpointSetting {
	byName := map[string]*endpointSetting{}
	var order []string
	var bad []endpointSetting
	get := func(name, setting string) *endpointSetting {
		k := strings.ToLower(name)
		s, ok := byName[k]
		if !ok {
			s = &endpointSetting{name: name, setting: setting, primary: true, identity: map[string]string{}}
			byName[k] = s
			order = append(order, k)
		}
		return s
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch {
		case strings.EqualFold(k, singleSetting):
			if strings.TrimSpace(v) != "" {
				get("default", singleSetting).connStr = v
			}
		case len(k) > len(singleSetting)+2 && strings.EqualFold(k[:len(singleSetting)+2], singleSetting+"__"):
			get("default", singleSetting).identity[strings.ToLower(k[len(singleSetting)+2:])] = v
		case len(k) > len(endpointsPrefix) && strings.EqualFold(k[:len(endpointsPrefix)], endpointsPrefix):
			parts := strings.Split(k[len(endpointsPrefix):], "__")
			name := parts[0]
			if name == "" {
				bad = append(bad, endpointSetting{setting: k, err: apperr.New(apperr.CodeConfigEndpoints, "setting "+k+" has no endpoint name", "")})
				continue
			}
			primary := true
			rest := parts[1:]
			if len(rest) > 0 {
				switch strings.ToLower(rest[0]) {
				case "primary":
					rest = rest[1:]
				case "secondary":
					primary = false
					rest = rest[1:]
				}
			}
			s := get(name, k)
			s.primary = primary
			switch len(rest) {
			case 0:
				s.connStr, s.setting = v, k
			case 1:
				s.identity[strings.ToLower(rest[0])] = v
			default:
				bad = append(bad, endpointSetting{name: name, setting: k, err: apperr.New(apperr.CodeConfigEndpoints,
					"setting "+k+" is not of the form "+endpointsPrefix+"<name>[__primary|__secondary][__<property>]", "")})
			}
		}
	}
	out := make([]endpointSetting, 0, len(order)+len(bad))
	for _, k := range order {
		out = append(out, *byName[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].name == "default" || (out[j].name != "default" && out[i].name < out[j].name)
	})
	return append(bad, out...)
}

// EndpointConfig is one configured SignalR endpoint as the handler reads
// it; `handler doctor` checks the same list.
type EndpointConfig struct {
	// Name is "default" for AzureSignalRConnectionString, else the <name>
	// of Azure__SignalR__Endpoints__<name>; empty when the setting's name
	// itself is malformed.
	Name string
	// Setting is the setting the endpoint was read from.
	Setting string
	// Primary is false for …__secondary endpoints.
	Primary bool
	// ConnectionString is the parsed connection string (identity-based
	// settings are turned into their AuthType equivalent); nil when Err.
	ConnectionString *signalr.ConnectionString
	// Err is the reason the setting is unusable, an *apperr.Error.
	Err error

	text string // the connection string ConnectionString was parsed from
}

// NewClient returns the REST client for the endpoint, as the handler
// creates it (opts may be nil). A non-nil cred replaces the Microsoft Entra
// ID credential of an Entra ID endpoint (the doctor bounds it, tests fake
// it); it is ignored for AccessKey endpoints.
func (ec EndpointConfig) NewClient(opts *signalr.ClientOptions, cred azcore.TokenCredential) (*signalr.Client, error) {
	if ec.Err != nil {
		return nil, ec.Err
	}
	if cred != nil && ec.ConnectionString.UsesEntraID() {
		return signalr.NewClient(ec.ConnectionString.ServerBase(), cred, opts)
	}
	return signalr.NewClientFromConnectionString(ec.text, opts)
}

// clientConfig is how the endpoints build their REST clients.
type clientConfig struct {
	signalr.ClientOptions
	// credential, when set, replaces the Entra ID credential of the
	// connection strings (tests).
	credential azcore.TokenCredential
}

// jsonString returns s as a JSON string literal, without HTML escaping.
func jsonString(s string) []byte { return textutil.AppendJSONString(nil, s, false) }

// ReadEndpoints reads every endpoint setting exactly as the handler does,
// and parses each: cfg.ConnectionString (AzureSignalRConnectionString; when
// empty, environ's), and the identity-based and multiple-endpoint settings found in environ
// (KEY=VALUE entries, as os.Environ returns them).
func ReadEndpoints(cfg Config, environ []string) []EndpointConfig {
	env := environ
	if cfg.ConnectionString != "" { // the loaded setting wins over environ's copy
		env = make([]string, 0, len(environ)+1)
		for _, kv := range environ {
			if k, _, _ := strings.Cut(kv, "="); !strings.EqualFold(k, singleSetting) {
				env = append(env, kv)
			}
		}
		env = append(env, singleSetting+"="+cfg.ConnectionString)
	}
	settings := collectEndpointSettings(env)
	out := make([]EndpointConfig, 0, len(settings))
	for _, st := range settings {
		ec := EndpointConfig{Name: st.name, Setting: st.setting, Primary: st.primary, Err: st.err}
		if ec.Err == nil {
			ec.ConnectionString, ec.text, ec.Err = st.connectionString()
		}
		out = append(out, ec)
	}
	return out
}

// connectionString parses the endpoint's connection string, or turns its
// identity-based properties (Functions' identity-based connections:
// serviceUri, credential, clientId, tenantId, clientSecret, serverEndpoint,
// clientEndpoint) into the equivalent connection string, parsed by the same
// rules.
func (s endpointSetting) connectionString() (*signalr.ConnectionString, string, error) {
	text := s.connStr
	if text == "" {
		uri := s.identity["serviceuri"]
		if uri == "" {
			return nil, "", apperr.New(apperr.CodeConfigConnStrMissing, s.setting+" is not set (neither a connection string nor "+s.setting+"__serviceUri)", "")
		}
		if s.identity["clientcertificate"] != "" {
			return nil, "", apperr.New(apperr.CodeConfigEndpoints, s.setting+"__clientCertificate (a certificate store thumbprint) is not supported on Linux", "Use a connection string with AuthType=azure.app;ClientCert=<path>, or a client secret, or a managed identity.")
		}
		auth := "azure"
		switch {
		case strings.EqualFold(s.identity["credential"], "managedidentity"):
			auth = "azure.msi"
		case s.identity["clientid"] != "" && s.identity["tenantid"] != "" && s.identity["clientsecret"] != "":
			auth = "azure.app"
		}
		parts := []string{"Endpoint=" + uri, "AuthType=" + auth, "Version=1.0"}
		for _, p := range []struct{ prop, key string }{
			{"serverendpoint", "ServerEndpoint"}, {"clientendpoint", "ClientEndpoint"},
			{"clientid", "ClientId"}, {"tenantid", "TenantId"}, {"clientsecret", "ClientSecret"},
		} {
			v := s.identity[p.prop]
			if v == "" {
				continue
			}
			if strings.Contains(v, ";") {
				return nil, "", apperr.New(apperr.CodeConfigEndpoints, s.setting+"__"+p.key+" contains ';', which a connection string cannot hold", "")
			}
			parts = append(parts, p.key+"="+v)
		}
		text = strings.Join(parts, ";")
	}
	cs, err := signalr.ParseConnectionString(text)
	if err != nil {
		return nil, "", connStrError(s.setting, err)
	}
	return cs, text, nil
}

func newEndpointSetFrom(cfg Config, environ []string, log *slog.Logger, cc *clientConfig) (*endpointSet, error) {
	endpoints := ReadEndpoints(cfg, environ)
	if len(endpoints) == 0 {
		return nil, apperr.New(apperr.CodeConfigConnStrMissing, "AzureSignalRConnectionString is not set", "")
	}
	set := &endpointSet{log: log, interval: cfg.HealthInterval}
	hasPrimary := false
	for _, st := range endpoints {
		if st.Err != nil {
			return nil, st.Err
		}
		cs := st.ConnectionString
		var o signalr.ClientOptions
		var cred azcore.TokenCredential
		if cc != nil {
			o, cred = cc.ClientOptions, cc.credential
		}
		o.Logger = log
		if o.Retry.TryTimeout == 0 {
			o.Retry.TryTimeout = cfg.RESTTimeout
		}
		client, err := st.NewClient(&o, cred)
		if err != nil {
			return nil, apperr.Wrap(err, apperr.CodeConfigEndpoints, st.Setting+": the REST client could not be created")
		}
		ep := &endpoint{name: st.Name, primary: st.Primary, cs: cs, client: client, hubs: map[string]hubTarget{}}
		ep.healthy.Store(true)
		for _, h := range append([]string{cfg.HubName}, cfg.AllowedHubs...) {
			ep.hubs[strings.ToLower(h)] = hubTarget{
				urlJSON:  jsonString(cs.ClientURL(h)),
				audience: cs.ClientAudience(h),
			}
		}
		hasPrimary = hasPrimary || st.Primary
		set.list = append(set.list, ep)
	}
	if !hasPrimary {
		return nil, apperr.New(apperr.CodeConfigEndpoints, "every endpoint is secondary; at least one must be primary", "")
	}
	return set, nil
}

// pick chooses the endpoint for a negotiate as the extension's default
// router does: a random usable primary, else a random usable secondary.
// With one endpoint it is always chosen: its health is the service's
// business, and negotiate makes no network call.
func (s *endpointSet) pick() (*endpoint, error) {
	if len(s.list) == 1 {
		return s.list[0], nil
	}
	for _, primary := range []bool{true, false} {
		n, chosen := 0, (*endpoint)(nil)
		for _, e := range s.list {
			if e.primary == primary && e.usable() {
				n++
				if rand.IntN(n) == 0 { // reservoir sampling: uniform, no allocation
					chosen = e
				}
			}
		}
		if chosen != nil {
			return chosen, nil
		}
	}
	return nil, apperr.New(apperr.CodeNegotiateNoEndpoint, fmt.Sprintf("none of the %d SignalR endpoints is healthy", len(s.list)), "")
}

// unhealthyRecheck is how often an unhealthy endpoint is probed again
// while background probes run, so that a recovery is seen within about a
// second; a successful REST call ends the unhealthy state even sooner.
const unhealthyRecheck = time.Second

// probeTimeout bounds one health probe.
const probeTimeout = 3 * time.Second

// Start probes every endpoint's health in the background (HEAD
// /api/health) every interval (every unhealthyRecheck while one is
// unhealthy), the first time one interval after start so that starting
// makes no network call, and keeps used signing keys fresh (touchKeys).
// Negotiate reads the cached verdicts and keys and never waits on either.
func (s *endpointSet) Start(ctx context.Context) {
	if s.cancel != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	keyEvery := s.keyEvery
	if keyEvery <= 0 {
		keyEvery = keyCheckInterval
	}
	go func() {
		defer close(s.done)
		var probe <-chan time.Time
		var timer *time.Timer
		next := func() {
			if s.interval <= 0 {
				return
			}
			d := s.interval
			if s.anyUnhealthy() {
				d = min(d, unhealthyRecheck)
			}
			if timer == nil {
				timer = time.NewTimer(d)
				probe = timer.C
				return
			}
			timer.Reset(d)
		}
		next()
		if timer != nil {
			defer timer.Stop()
		}
		keys := time.NewTicker(keyEvery)
		defer keys.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-probe:
				s.probeAll(ctx)
				next()
			case <-keys.C:
				s.touchKeys(ctx)
			}
		}
	}()
}

func (s *endpointSet) anyUnhealthy() bool {
	for _, e := range s.list {
		if !e.healthy.Load() {
			return true
		}
	}
	return false
}

// touchKeys asks every endpoint whose key negotiate has used for it, so the
// key cache refreshes it on time even when no client negotiates.
func (s *endpointSet) touchKeys(ctx context.Context) {
	for _, e := range s.list {
		if !e.keyUsed.Load() {
			continue
		}
		kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if _, err := e.client.AccessKey(kctx); err != nil && ctx.Err() == nil {
			s.log.Warn("signing key unavailable", "endpoint", e.name, "code", apperr.FromSignalR(err).Code)
		}
		cancel()
	}
}

// probeAll probes every endpoint (each bounded by probeTimeout) and
// records the verdicts, a timeout included; only when ctx itself ends
// (shutdown, or the caller of /api/health left) is nothing recorded.
func (s *endpointSet) probeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range s.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			_, err := e.client.Health(pctx, nil)
			if ctx.Err() != nil {
				return
			}
			e.record(err, "probe", s.log)
		}()
	}
	wg.Wait()
}

// Close stops the health probes.
func (s *endpointSet) Close() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
}

// byName returns the endpoint named name (case-insensitive), or nil.
func (s *endpointSet) byName(name string) *endpoint {
	for _, e := range s.list {
		if strings.EqualFold(e.name, name) {
			return e
		}
	}
	return nil
}
