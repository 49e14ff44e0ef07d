package server

import (
	"net/http"

	"github.com/serverless-signalr/functions-go/customhandler"
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
}

// Functions returns the functions the handler serves. The routes below, the
// host-conformance test and `handler doctor` all read this one table.
func Functions() []Function {
	return []Function{
		{Name: "negotiate", Route: "negotiate", Methods: []string{"get", "post", "options"}, AuthLevel: "anonymous"},
		{Name: "broadcast", Route: "broadcast", Methods: []string{"post"}, AuthLevel: "function"},
		{Name: "health", Route: "health", Methods: []string{"get"}, AuthLevel: "anonymous"},
	}
}

// addRoutes maps the whole API surface of the handler.
//
// Every function is served twice: at its forwarded route under the route
// prefix (host.json enableForwardingHttpRequest, the path the caller used)
// and at its function name (the host's JSON invocation envelope, used when
// forwarding is off or the function has other bindings). Both run the same
// handler; customhandler.Handler adapts the envelope.
func (s *Server) addRoutes(mux *http.ServeMux) {
	handlers := map[string]http.Handler{
		"negotiate": s.limitInFlight(&s.negotiateInFlight, http.HandlerFunc(s.handleNegotiate)),
		"broadcast": s.limitInFlight(&s.broadcastInFlight, http.HandlerFunc(s.handleBroadcast)),
		"health":    http.HandlerFunc(s.handleHealth),
	}

	// Host readiness and liveness ping: must answer at once.
	mux.HandleFunc("GET /{$}", s.handlePing)

	for _, f := range Functions() {
		h := s.cors.wrap(handlers[f.Name])
		mux.Handle("/"+RoutePrefix+"/"+f.Route, h)
		mux.Handle("POST /"+f.Name, customhandler.Handler(h, customhandler.Options{Trigger: "req", Output: "res", Logger: s.log}))
	}

	if s.cfg.DevChatPage {
		mux.Handle("GET /chat/", http.StripPrefix("/chat", chatPage()))
	}

	mux.HandleFunc("/", s.handleNotFound)
}
