package signalr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/serverless-signalr/functions-go/internal/textutil"
)

// maxErrorMessage bounds the service message kept in a [ResponseError].
const maxErrorMessage = 512

// ResponseError is returned when the service answers a REST call with a
// status the operation does not accept. It wraps the [azcore.ResponseError]
// (StatusCode, ErrorCode from the x-ms-error-code header or the ErrorDetail
// body, RawResponse), so errors.As works for either type. It carries no
// secret: Endpoint is the server base URL and Message comes from the
// service's ErrorDetail body, cleaned of control characters and truncated.
type ResponseError struct {
	*azcore.ResponseError
	// Message is the service's explanation, if any.
	Message string
	// Endpoint is the server base URL the call went to.
	Endpoint string
	// Operation is the client method, e.g. "SendToAll".
	Operation string

	send bool // the operation is a non-idempotent send
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

// Unwrap returns the wrapped *azcore.ResponseError.
func (e *ResponseError) Unwrap() error { return e.ResponseError }

// ConnectionErrorKind says why a REST call produced no HTTP response.
type ConnectionErrorKind int

// The kinds of [ConnectionError].
const (
	// ConnectionUnreachable: DNS failure, connection refused, or the
	// connection broke before the request was completely written.
	ConnectionUnreachable ConnectionErrorKind = iota + 1
	// ConnectionTLS: the TLS handshake failed (version below 1.2, an
	// invalid certificate).
	ConnectionTLS
	// ConnectionTimeout: the try timeout, the retry budget or the caller's
	// deadline expired.
	ConnectionTimeout
	// ConnectionCredential: the request could not be authorized: no
	// Microsoft Entra ID token, or no server token could be signed. Nothing
	// was sent.
	ConnectionCredential
	// ConnectionCanceled: the caller canceled the context.
	ConnectionCanceled
	// ConnectionFailed: the connection broke after the request was written.
	ConnectionFailed
)

var connKindNames = [...]string{"", "unreachable", "tls", "timeout", "credential", "canceled", "failed"}

// String returns the kind in lower case, e.g. "timeout".
func (k ConnectionErrorKind) String() string {
	if k > 0 && int(k) < len(connKindNames) {
		return connKindNames[k]
	}
	return fmt.Sprintf("ConnectionErrorKind(%d)", int(k))
}

// ConnectionError is returned when a REST call produced no HTTP response.
type ConnectionError struct {
	// Kind says what went wrong.
	Kind ConnectionErrorKind
	// Operation is the client method, e.g. "SendToAll".
	Operation string
	// Endpoint is the server base URL the call went to.
	Endpoint string
	// Written reports whether the request had been written completely, so
	// the service may have acted on it.
	Written bool
	// Err is the underlying error.
	Err error

	send bool
}

// Error implements error.
func (e *ConnectionError) Error() string {
	what := map[ConnectionErrorKind]string{
		ConnectionUnreachable: "service unreachable",
		ConnectionTLS:         "TLS handshake failed",
		ConnectionTimeout:     "timed out",
		ConnectionCredential:  "could not authorize the request",
		ConnectionCanceled:    "canceled",
	}[e.Kind]
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
	// Operation is the client method, e.g. "SendToAll".
	Operation string
	// Endpoint is the server base URL the breaker guards.
	Endpoint string
	// State is the breaker state, [BreakerOpen] or [BreakerHalfOpen].
	State BreakerState
}

// Error implements error.
func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("signalr: %s: %s: circuit breaker is %s, failing fast", e.Operation, e.Endpoint, e.State)
}

// PayloadTooLargeError is returned, before anything is sent, when a message
// body would exceed the service's REST limit of [MaxPayloadSize] bytes.
type PayloadTooLargeError struct {
	// Size is the encoded body size in bytes.
	Size int
	// Limit is the maximum body size in bytes.
	Limit int
}

// Error implements error.
func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("signalr: message body is %d bytes, the service accepts at most %d", e.Size, e.Limit)
}

// Argument names of [ArgumentError].
const (
	ArgHub          = "hub"
	ArgGroup        = "group"
	ArgUserID       = "userID"
	ArgConnectionID = "connectionID"
	ArgTarget       = "target"
	ArgArguments    = "arguments"
	ArgTTL          = "ttl"
	ArgExpiry       = "minutesToExpire"
)

// ArgumentError is returned, before anything is sent, for an invalid
// argument: an empty id, an invalid hub or group name, a message without a
// target or with arguments that are not a JSON array, a negative TTL.
type ArgumentError struct {
	// Name is the argument, one of the Arg… constants (e.g. [ArgUserID]).
	Name string
	// Reason says what is wrong with it.
	Reason string
	// Err is the underlying validation error, if any (a *[HubNameError] or
	// *[GroupNameError] for names).
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

// IsOutcomeUnknown reports whether err comes from a send (the …:send
// operations) that the service may have carried out although the call
// failed: the request was completely written and then the connection broke
// or timed out, or the service answered 500, 502 or 504. Such a send is
// never retried by the client (see the package's retry rule), and a caller
// who resends it may deliver the message twice.
func IsOutcomeUnknown(err error) bool {
	var (
		ce *ConnectionError
		re *ResponseError
	)
	switch {
	case errors.As(err, &ce):
		return ce.send && ce.Written && ce.Kind != ConnectionCredential
	case errors.As(err, &re):
		switch re.StatusCode {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
			return re.send
		}
	}
	return false
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
			code = textutil.Clean(s, 128)
		}
		if s, ok := d.Message.(string); ok {
			message = textutil.Clean(s, maxErrorMessage)
		}
		return code, message
	}
	return "", textutil.Clean(string(body), maxErrorMessage)
}
