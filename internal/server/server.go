// Package server is the Azure Functions custom handler: the HTTP application
// that answers negotiate and broadcast for Azure SignalR Service in
// serverless mode. routes.go lists its whole API surface.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
	"github.com/serverless-signalr/functions-go/signalr/serverless"
)

// Server is the handler's HTTP application. Create it with New; it is an
// http.Handler.
type Server struct {
	cfg        Config
	log        *slog.Logger
	cors       *corsPolicy
	identity   *identity.Resolver
	endpoints  *endpointSet
	hubs       map[string]string // lower-cased allowed hub -> hub as configured
	defaultHub string            // lower-cased
	handler    http.Handler
	// upstream is the chat hub served at /api/upstream (upstream.go);
	// upstreamIdentity checks its managed-identity tokens, when configured.
	upstream         *serverless.Hub
	upstreamIdentity *identity.Resolver
	// negotiateInFlight and broadcastInFlight count requests per function:
	// separate bulkheads, so broadcasts stuck on a sick service can never
	// use up negotiate's share.
	negotiateInFlight atomic.Int64
	broadcastInFlight atomic.Int64
	// bodies bounds the request bodies held in memory; readTimeout is the
	// time a body has to arrive (HANDLER_MAX_BODY_MEMORY_MB,
	// HANDLER_READ_TIMEOUT).
	bodies      *bodyBudget
	readTimeout time.Duration
}

// New validates cfg, parses the connection string(s) (cfg.ConnectionString
// and cfg.EndpointSettings) and builds the server. It makes no network
// call: keys and health are fetched lazily.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	return newServer(cfg, logger, cfg.EndpointSettings, nil)
}

// newServer is New with the endpoint settings (KEY=VALUE entries) and the
// REST clients' options given (tests inject credentials and clocks).
func newServer(cfg Config, logger *slog.Logger, environ []string, clientOpts *clientConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger, cors: newCORSPolicy(cfg), hubs: map[string]string{}, defaultHub: strings.ToLower(cfg.HubName)}
	lc := cfg.listenerDefaults()
	s.bodies, s.readTimeout = newBodyBudget(int64(lc.MaxBodyMemoryMB)<<20), lc.ReadTimeout
	for _, h := range append([]string{cfg.HubName}, cfg.AllowedHubs...) {
		if err := validateHub(h); err != nil {
			return nil, apperr.New(apperr.CodeConfigInvalid, fmt.Sprintf("hub %q in AzureSignalRHubName/SIGNALR_ALLOWED_HUBS is invalid: %v", h, err), "")
		}
		s.hubs[strings.ToLower(h)] = h
	}
	eps, err := newEndpointSetFrom(cfg, environ, logger, clientOpts)
	if err != nil {
		return nil, err
	}
	s.endpoints = eps
	icfg := identityConfig(cfg)
	icfg.Logger = logger
	res, err := identity.New(icfg)
	if err != nil {
		return nil, apperr.As(err)
	}
	s.identity = res
	if s.upstream, err = s.newUpstream(); err != nil {
		s.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	s.addRoutes(mux)
	s.handler = s.recoverPanics(mux)
	return s, nil
}

// identityConfig maps the settings onto the identity resolver's config.
func identityConfig(cfg Config) identity.Config {
	var secret []byte
	if cfg.JWTSecret != "" {
		secret = []byte(cfg.JWTSecret)
	}
	return identity.Config{
		TrustEasyAuth:        cfg.TrustClientPrincipal(),
		JWKSURL:              cfg.JWKSURL,
		HS256Secret:          secret,
		Issuer:               cfg.JWTIssuer,
		Audiences:            cfg.JWTAudiences,
		Leeway:               cfg.JWTLeeway,
		UserIDClaim:          cfg.UserIDClaim,
		AllowAnonymous:       cfg.AllowAnonymous,
		DevAllowClientUserID: cfg.DevAllowClientUserID,
		ClaimTypes:           cfg.ClaimTypes,
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close releases background work (JWKS refresh, key refresh, health probes).
func (s *Server) Close() error {
	if s.identity != nil {
		s.identity.Close()
	}
	if s.upstreamIdentity != nil {
		s.upstreamIdentity.Close()
	}
	if s.endpoints != nil {
		s.endpoints.Close()
	}
	return nil
}

// Start begins background work that must not delay readiness (health
// probes of multiple endpoints). It returns at once.
func (s *Server) Start(ctx context.Context) { s.endpoints.Start(ctx) }

// handlePing serves the "GET /" route: the Functions host polls it until the
// handler answers, then pings it. It does no work.
func (s *Server) handlePing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// handleNotFound serves every path no route matches with a 404 that names the
// usual causes.
func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	hint := "Routes are /api/negotiate, /api/broadcast and /api/health. Give @microsoft/signalr the base URL ending in /api: it appends /negotiate itself."
	lp := strings.ToLower(p)
	switch {
	case strings.HasSuffix(strings.TrimSuffix(lp, "/"), "/negotiate/negotiate"):
		hint = "The path has /negotiate twice: pass the client the hub base URL (…/api), not …/api/negotiate."
	case strings.HasPrefix(lp, "/client/"):
		hint = "This is the handler, not the SignalR service: do not use skipNegotiation; let the client follow the url returned by /api/negotiate."
	}
	apperr.Write(w, apperr.New(apperr.CodeRouteNotFound, fmt.Sprintf("no function is served at %s %q", r.Method, p), hint))
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "code", apperr.CodeInternal, "path", r.URL.Path, "panic", fmt.Sprint(v))
				apperr.Write(w, apperr.New(apperr.CodeInternal, "The handler failed unexpectedly.", ""))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// fail writes err as the JSON error body and logs it with the same code:
// client mistakes at info, service trouble at warn, internal errors at error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.As(err)
	status := apperr.Write(w, e)
	s.logFailure(r, e, status)
}

// logFailure logs a client-facing error once, with its code: a client
// mistake (4xx) at info with code, status, method and route (an operator
// sees why a page's broadcast fails; never the body, and no cause, which
// may quote what the client sent), service trouble at warn, internal
// errors at error.
func (s *Server) logFailure(r *http.Request, e *apperr.Error, status int) {
	level := slog.LevelInfo
	switch {
	case status >= 500 && e.Code == apperr.CodeInternal:
		level = slog.LevelError
	case status >= 500:
		level = slog.LevelWarn
	}
	if s.log.Enabled(r.Context(), level) {
		attrs := []any{"code", e.Code, "status", status, "method", r.Method, "route", r.URL.Path, "message", e.Message}
		if e.Err != nil && status >= 500 {
			attrs = append(attrs, "cause", e.Err.Error())
		}
		s.log.Log(r.Context(), level, "request failed", attrs...)
	}
}
