package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error codes carried by the typed errors of the REST client. Their values
// equal the error codes of the application that embeds this package, so a
// caller can pass them on without a translation table.
const (
	CodeUnauthorized = "service.unauthorized"
	CodeForbidden    = "service.forbidden"
	CodeNotFound     = "service.not_found"
	CodeBadRequest   = "service.bad_request"
	CodeThrottled    = "service.throttled"
	CodeUnavailable  = "service.unavailable"
	CodeTimeout      = "service.timeout"
	CodeCircuitOpen  = "service.circuit_open"
	CodeUnreachable  = "service.unreachable"
	CodeTLS          = "service.tls"
	CodeServiceError = "service.error"

	CodeMissingID      = "broadcast.missing_id"
	CodeMissingTarget  = "broadcast.missing_target"
	CodeInvalidHub     = "broadcast.invalid_hub"
	CodeInvalidGroup   = "broadcast.invalid_group"
	CodeInvalidMessage = "broadcast.invalid_message"
	CodeTooLarge       = "broadcast.too_large"
)

// maxErrorMessage bounds the service message kept in a [ResponseError].
const maxErrorMessage = 512

// ResponseError is returned when the service answers a REST call with a
// status the operation does not accept. It carries no secret: the endpoint
// is the server base URL and the message comes from the service's
// ErrorDetail body, cleaned of control characters and truncated.
type ResponseError struct {
	// Code is the application error code derived from StatusCode
	// (see [ErrorCode]).
	Code string
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// ErrorCode is the service's x-ms-error-code header (or the code in the
	// ErrorDetail body when the header is absent), e.g.
	// "Warning.Connection.NotExisted".
	ErrorCode string
	// Message is the service's explanation, if any.
	Message string
	// Endpoint is the server base URL the call went to.
	Endpoint string
	// Operation is the client method, e.g. "SendToAll".
	Operation string
	// RawResponse is the response; its body has already been read.
	RawResponse *http.Response
}

// Error implements error.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "signalr: %s: %s returned %d", e.Operation, e.Endpoint, e.StatusCode)
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " (%s)", e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// ConnectionError is returned when a REST call produced no HTTP response:
// the endpoint could not be reached, the TLS handshake failed, the try
// timed out, the connection broke, or the request could not be authorized
// (no Entra ID token, or no server token could be signed).
type ConnectionError struct {
	// Code is one of [CodeUnreachable], [CodeTLS], [CodeTimeout],
	// [CodeUnauthorized] (no Entra ID token or server token) or
	// [CodeServiceError].
	Code string
	// Operation is the client method, e.g. "SendToAll".
	Operation string
	// Endpoint is the server base URL the call went to.
	Endpoint string
	// Written reports whether the request had been written completely, so
	// the service may have acted on it.
	Written bool
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *ConnectionError) Error() string {
	what := map[string]string{
		CodeUnreachable:  "service unreachable",
		CodeTLS:          "TLS handshake failed",
		CodeTimeout:      "timed out",
		CodeUnauthorized: "could not authorize the request",
	}[e.Code]
	if what == "" {
		what = "request failed"
	}
	if e.Written {
		what += " after the request was sent"
	}
	return fmt.Sprintf("signalr: %s: %s: %s: %v", e.Operation, e.Endpoint, what, e.Err)
}

// Unwrap returns the underlying error.
func (e *ConnectionError) Unwrap() error { return e.Err }

// CircuitOpenError is returned without contacting the service while the
// client's circuit breaker for the endpoint is open (or half-open with its
// probe already in flight).
type CircuitOpenError struct {
	// Code is always [CodeCircuitOpen].
	Code string
	// Operation is the client method, e.g. "SendToAll".
	Operation string
	// Endpoint is the server base URL the breaker guards.
	Endpoint string
	// State is the breaker state, "open" or "half-open".
	State string
}

// Error implements error.
func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("signalr: %s: %s: circuit breaker is %s, failing fast", e.Operation, e.Endpoint, e.State)
}

// PayloadTooLargeError is returned, before anything is sent, when a message
// body would exceed the service's REST limit of [MaxPayloadSize] bytes.
type PayloadTooLargeError struct {
	// Code is always [CodeTooLarge].
	Code string
	// Size is the encoded body size in bytes.
	Size int
	// Limit is the maximum body size in bytes.
	Limit int
}

// Error implements error.
func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("signalr: message body is %d bytes, the service accepts at most %d", e.Size, e.Limit)
}

// ArgumentError is returned, before anything is sent, for an invalid
// argument: an empty id, an invalid hub or group name, a message without a
// target or with arguments that are not a JSON array, a negative TTL.
type ArgumentError struct {
	// Code is one of the broadcast.* codes, e.g. [CodeMissingID].
	Code string
	// Name is the argument, e.g. "connectionID".
	Name string
	// Reason says what is wrong with it.
	Reason string
	// Err is the underlying validation error, if any.
	Err error
}

// Error implements error.
func (e *ArgumentError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("signalr: invalid %s: %s: %v", e.Name, e.Reason, e.Err)
	}
	return fmt.Sprintf("signalr: invalid %s: %s", e.Name, e.Reason)
}

// Unwrap returns the underlying error.
func (e *ArgumentError) Unwrap() error { return e.Err }

// ErrorCode returns the application error code of err: the Code of the
// first typed error of this package in its chain, [CodeTimeout] for a
// deadline, [CodeServiceError] for anything else, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var (
		re *ResponseError
		ce *ConnectionError
		co *CircuitOpenError
		pe *PayloadTooLargeError
		ae *ArgumentError
	)
	switch {
	case errors.As(err, &re):
		return re.Code
	case errors.As(err, &ce):
		return ce.Code
	case errors.As(err, &co):
		return CodeCircuitOpen
	case errors.As(err, &pe):
		return CodeTooLarge
	case errors.As(err, &ae):
		return ae.Code
	case isTimeout(err):
		return CodeTimeout
	}
	return CodeServiceError
}

// isTimeout reports whether err is a deadline or a network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// codeForStatus maps an HTTP status of the service to an application code.
func codeForStatus(status int) string {
	switch {
	case status == http.StatusBadRequest, status == http.StatusRequestEntityTooLarge:
		return CodeBadRequest
	case status == http.StatusUnauthorized:
		return CodeUnauthorized
	case status == http.StatusForbidden:
		return CodeForbidden
	case status == http.StatusNotFound:
		return CodeNotFound
	case status == http.StatusTooManyRequests:
		return CodeThrottled
	case status == http.StatusRequestTimeout, status == http.StatusGatewayTimeout:
		return CodeTimeout
	case status == http.StatusInternalServerError:
		return CodeServiceError
	case status >= 500:
		return CodeUnavailable
	}
	return CodeServiceError
}

// parseErrorBody extracts the code and message of the service's
// ErrorDetail body {"code","message","target","details","inner"}. A body
// that is not such JSON yields its text as the message. The message is
// valid UTF-8, free of control characters and at most maxErrorMessage bytes.
func parseErrorBody(body []byte) (code, message string) {
	var d struct {
		Code    any `json:"code"`
		Message any `json:"message"`
	}
	if err := json.Unmarshal(body, &d); err == nil {
		if s, ok := d.Code.(string); ok {
			code = cleanText(s, 128)
		}
		if s, ok := d.Message.(string); ok {
			message = cleanText(s, maxErrorMessage)
		}
		return code, message
	}
	return "", cleanText(string(body), maxErrorMessage)
}

// cleanText replaces invalid UTF-8 and control characters with spaces,
// collapses runs of white space, trims, and truncates to at most max bytes
// on a rune boundary (marking the cut with "...").
func cleanText(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() > max {
			break
		}
	}
	out := b.String()
	if len(out) <= max {
		return out
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + "..."
}
