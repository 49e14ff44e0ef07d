package server

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/serverless-signalr/functions-go/customhandler"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
)

// RoutePrefix is the route prefix the handler serves under: host.json's
// extensions.http.routePrefix must be the same.
const RoutePrefix = "api"

// Function is one Azure Functions function the handler serves, as its
// <Name>/function.json must declare it: an httpTrigger named "req" on
// Route with Methods and AuthLevel, and one http output named "res".
type Function struct {
	Name      string
	Route     string
	Methods   []string // lower case, as in function.json
	AuthLevel string   // anonymous or function
	// JSONBody marks a function that changes state: its body must be
	// application/json (optional charset), else 415, so that no
	// cross-origin "simple" request (sent by browsers without a CORS
	// preflight) can reach it.
	JSONBody bool
	// MaxBodyBytes bounds the body (0: 64 KiB).
	MaxBodyBytes int64
}

// Functions returns the functions the handler serves. The routes below, the
// host-conformance test and `handler doctor` all read this one table.
func Functions() []Function {
	return []Function{
		{Name: "negotiate", Route: "negotiate", Methods: []string{"get", "post", "options"}, AuthLevel: "anonymous"},
		{Name: "broadcast", Route: "broadcast", Methods: []string{"post"}, AuthLevel: "function", JSONBody: true, MaxBodyBytes: maxBroadcastBody},
		{Name: "health", Route: "health", Methods: []string{"get"}, AuthLevel: "anonymous"},
		{Name: "upstream", Route: "upstream", Methods: []string{"post"}, AuthLevel: "function", MaxBodyBytes: signalr.DefaultUpstreamMaxBody},
		{Name: "presence", Route: "presence", Methods: []string{"get"}, AuthLevel: "function"},
		{Name: "invoke", Route: "invoke", Methods: []string{"post"}, AuthLevel: "function", JSONBody: true, MaxBodyBytes: maxInvokeBody},
	}
}

// addRoutes maps the whole API surface of the handler.
//
// Every function is served twice: at its forwarded route under the route
// prefix (host.json enableForwardingHttpRequest, the path the caller used)
// and at its function name (the host's JSON invocation envelope, used when
// forwarding is off or the function has other bindings). Both run the same
// handler; customhandler.Handler adapts the envelope.
//
// The host's routing (ASP.NET Core) matches a route ignoring case and a
// trailing slash, then forwards the caller's path unchanged (reference:
// Azure/azure-functions-host DefaultHttpWorkerService.GetPathValue), so
// /API/Negotiate and /api/negotiate/ reach the handler: the exact routes are
// registered for the fast path and the rest is resolved by [forwardedRoutes]
// before the 404. The envelope path is the function's folder name, which the
// host sends in its exact case.
func (s *Server) addRoutes(mux *http.ServeMux) {
	handlers := map[string]http.Handler{
		"negotiate": http.HandlerFunc(s.handleNegotiate),
		"broadcast": http.HandlerFunc(s.handleBroadcast),
		"health":    http.HandlerFunc(s.handleHealth),
		"upstream":  s.upstream,
		"presence":  http.HandlerFunc(s.handlePresence),
		"invoke":    http.HandlerFunc(s.handleInvoke),
	}
	// inFlight counts each function's requests for HANDLER_MAX_IN_FLIGHT
	// (none: not bounded).
	inFlight := map[string]*atomic.Int64{"negotiate": &s.negotiateInFlight, "broadcast": &s.broadcastInFlight}

	// Host readiness and liveness ping: must answer at once.
	mux.HandleFunc("GET /{$}", s.handlePing)

	forwarded := forwardedRoutes{}
	for _, f := range Functions() {
		// The caller's request, forwarded or rebuilt from the envelope.
		// CORS preflights and methods first: a preflight has no body.
		fwd := s.limitInFlight(inFlight[f.Name], s.cors.wrap(s.allowMethods(f, s.checkBody(f, s.holdBody(f.maxBody(), handlers[f.Name])))))
		h := s.cors.wrap(s.allowMethods(f, s.checkBody(f, handlers[f.Name])))
		mux.Handle("/"+RoutePrefix+"/"+f.Route, fwd)
		forwarded[strings.ToLower(f.Route)] = fwd
		env := customhandler.Handler(h, customhandler.Options{Trigger: "req", Output: "res", MaxBodyBytes: f.maxEnvelope(), Logger: s.log, WriteError: writeEnvelopeError})
		mux.Handle("POST /"+f.Name, s.envelopeGate(f, inFlight[f.Name], env))
	}

	if s.cfg.DevChatPage {
		mux.Handle("GET /chat/", http.StripPrefix("/chat", chatPage()))
	}

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if h := forwarded.match(r.URL.Path); h != nil {
			h.ServeHTTP(w, r)
			return
		}
		if s.serveTrigger(w, r) { // POST /<function> of a signalRTrigger function (upstream_trigger.go)
			return
		}
		s.handleNotFound(w, r)
	})
}

// forwardedRoutes maps a lower-cased function route to its handler.
type forwardedRoutes map[string]http.Handler

// match returns the handler of the function whose route path matches as the
// Functions host matches it: case-insensitively, with one optional trailing
// slash. It returns nil for any other path.
func (m forwardedRoutes) match(path string) http.Handler {
	prefix := "/" + RoutePrefix + "/"
	if len(path) <= len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return nil
	}
	route := strings.TrimSuffix(path[len(prefix):], "/")
	return m[strings.ToLower(route)]
}

// allowMethods lets through the methods f declares (HEAD with GET), answers
// a plain OPTIONS with 204 where declared (CORS preflights are answered
// before, by the CORS policy), and refuses the rest with 405 and Allow.
func (s *Server) allowMethods(f Function, next http.Handler) http.Handler {
	allowed := map[string]bool{}
	var allow []string
	for _, m := range f.Methods {
		m = strings.ToUpper(m)
		allowed[m] = true
		allow = append(allow, m)
	}
	if allowed[http.MethodGet] {
		allowed[http.MethodHead] = true
	}
	allowHeader := strings.Join(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !allowed[r.Method]:
			w.Header().Set("Allow", allowHeader)
			s.fail(w, r, apperr.New(apperr.CodeMethodNotAllowed, r.Method+" is not accepted by "+f.Name, "The "+f.Name+" function accepts "+allowHeader+"."))
		case r.Method == http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// writeEnvelopeError renders the failures customhandler answers itself
// (undecodable or oversized envelopes, panics) with the app's error type, so
// their status and hint come from the one code registry.
func writeEnvelopeError(w http.ResponseWriter, _ int, code, message, _ string) {
	apperr.Write(w, &apperr.Error{Code: code, Message: message})
}
