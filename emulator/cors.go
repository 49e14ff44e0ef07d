package emulator

import (
	"net/http"
)

// corsAllowHeaders is sent when a preflight does not list the headers it
// wants; it covers what @microsoft/signalr and the SDKs send.
const corsAllowHeaders = "Authorization, Content-Type, X-Requested-With, X-SignalR-User-Agent, Asrs-User-Agent"

// corsAllowMethods lists every method a route of the emulator accepts.
const corsAllowMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS"

// applyCORS adds CORS headers for any origin, with credentials (the JS client
// uses withCredentials=true, so "*" would be rejected by browsers). It
// reports whether the request was a preflight that has been answered.
func applyCORS(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "x-ms-error-code")
	}
	if r.Method != http.MethodOptions {
		return false
	}
	if origin != "" {
		allow := r.Header.Get("Access-Control-Request-Headers")
		if allow == "" {
			allow = corsAllowHeaders
		}
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Headers", allow)
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}
