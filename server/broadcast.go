package server

import (
	"net/http"

	"github.com/serverless-signalr/functions-go/apperr"
)

// handleBroadcast serves the "POST /api/broadcast" route and "POST
// /broadcast" through the Functions envelope.
func (s *Server) handleBroadcast(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, apperr.New(apperr.CodeNotImplemented, "broadcast is not implemented yet", ""))
}

// handleHealth serves the "GET /api/health" route.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}
