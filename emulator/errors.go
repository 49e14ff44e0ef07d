package emulator

import (
	"encoding/json"
	"net/http"
)

// Error codes the emulator answers with. The Warning/Info/Error.*.NotExisted
// codes are the ones the service sends and the .NET SDK tolerates; the other
// codes follow the service's naming scheme but are chosen by the emulator.
const (
	codeUnauthorized          = "Error.Unauthorized"
	codeInvalidRequest        = "Error.InvalidRequest"
	codeInvalidHubName        = "Error.InvalidHubName"
	codePayloadTooLarge       = "Error.PayloadTooLarge"
	codeNotFound              = "Error.NotFound"
	codeMethodNotAllowed      = "Error.MethodNotAllowed"
	codeForbidden             = "Error.Forbidden"
	codeConflict              = "Error.Conflict"
	codeUnavailable           = "Error.ServiceUnavailable"
	codeWarnConnNotExisted    = "Warning.Connection.NotExisted"
	codeWarnUserNotExisted    = "Warning.User.NotExisted"
	codeWarnGroupNotExisted   = "Warning.Group.NotExisted"
	codeErrConnNotExisted     = "Error.Connection.NotExisted"
	codeInfoUserNotInGroup    = "Info.User.NotInGroup"
	codeNegotiateTokenUnknown = "Error.Connection.TokenNotFound"
)

// errorDetail is the service's ErrorDetail body.
type errorDetail struct {
	Code    string `json:"code"`
	Level   string `json:"level"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// writeError answers with status, the x-ms-error-code header and an
// ErrorDetail body (no body for HEAD).
func writeError(w http.ResponseWriter, r *http.Request, status int, code, target, msg string) {
	level := "Error"
	switch code {
	case codeWarnConnNotExisted, codeWarnUserNotExisted, codeWarnGroupNotExisted:
		level = "Warning"
	case codeInfoUserNotInGroup:
		level = "Info"
	}
	h := w.Header()
	h.Set("x-ms-error-code", code)
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(errorDetail{Code: code, Level: level, Message: msg, Target: target})
}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}
