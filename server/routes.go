package server

import (
	"net/http"

	"github.com/serverless-signalr/functions-go/customhandler"
)

// addRoutes maps the whole API surface of the handler.
//
// Every function is served twice: at its forwarded route under the route
// prefix (host.json enableForwardingHttpRequest, the path the caller used)
// and at its function name (the host's JSON invocation envelope, used when
// forwarding is off or the function has other bindings). Both run the same
// handler; customhandler.Handler adapts the envelope.
func (s *Server) addRoutes(mux *http.ServeMux) {
	negotiate := s.limitInFlight(&s.negotiateInFlight, http.HandlerFunc(s.handleNegotiate))
	broadcast := s.limitInFlight(&s.broadcastInFlight, http.HandlerFunc(s.handleBroadcast))
	envelope := func(h http.Handler) http.Handler {
		return customhandler.Handler(s.cors.wrap(h), customhandler.Options{Trigger: "req", Output: "res", Logger: s.log})
	}

	// Host readiness and liveness ping: must answer at once.
	mux.HandleFunc("GET /{$}", s.handlePing)

	mux.Handle("/api/negotiate", s.cors.wrap(negotiate))
	mux.Handle("POST /negotiate", envelope(negotiate))

	mux.Handle("/api/broadcast", s.cors.wrap(broadcast))
	mux.Handle("POST /broadcast", envelope(broadcast))

	mux.Handle("/api/health", s.cors.wrap(http.HandlerFunc(s.handleHealth)))

	if s.cfg.DevChatPage {
		mux.Handle("GET /chat/", http.StripPrefix("/chat", chatPage()))
	}

	mux.HandleFunc("/", s.handleNotFound)
}
