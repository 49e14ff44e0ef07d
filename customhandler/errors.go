package customhandler

import (
	"encoding/json"
	"net/http"
)

// Codes of the failures [Handler] answers itself, in the caller's response.
const (
	// CodeInvalidEnvelope: the host's invocation envelope could not be
	// decoded (400).
	CodeInvalidEnvelope = "request.invalid_envelope"
	// CodeBodyTooLarge: the envelope is over Options.MaxBodyBytes (413).
	CodeBodyTooLarge = "request.body_too_large"
	// CodeInternal: the wrapped handler panicked (500).
	CodeInternal = "internal"
)

// WriteError writes status and the JSON body
// {"error":{"code","message","hint"}}, the
// default of Options.WriteError.
func WriteError(w http.ResponseWriter, status int, code, message, hint string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Hint    string `json:"hint"`
	}
	b, _ := json.Marshal(struct {
		Error body `json:"error"`
	}{body{code, message, hint}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
