package signalr

import (
	"net/http"
	"strconv"
)

// UpstreamErrorKind says why an upstream call was refused; it is the Kind
// of an [UpstreamError]. An application maps kinds to its own error codes.
type UpstreamErrorKind int

// The kinds of [UpstreamError]. The first nine are reported by
// [UpstreamValidator.Parse]; the last three by a hub that dispatches the
// parsed call (package signalr/serverless).
const (
	// UpstreamMissingHeader: an X-ASRS-* header is missing, or the
	// category or connection event is unknown.
	UpstreamMissingHeader UpstreamErrorKind = iota + 1
	// UpstreamUnsupportedMediaType: the body is neither application/json
	// nor application/x-msgpack.
	UpstreamUnsupportedMediaType
	// UpstreamInvalidBody: the body is not an unframed hub-protocol
	// invocation or connection event, or its target differs from
	// X-ASRS-Event.
	UpstreamInvalidBody
	// UpstreamBodyTooLarge: the body exceeds [UpstreamOptions.MaxBodyBytes].
	UpstreamBodyTooLarge
	// UpstreamSignatureMissing: keys are configured but the call carries
	// no X-ASRS-Signature (and no accepted bearer token).
	UpstreamSignatureMissing
	// UpstreamSignatureMalformed: X-ASRS-Signature has no entry of the
	// form sha256=<64 hex digits>.
	UpstreamSignatureMalformed
	// UpstreamSignatureMismatch: no signature entry matches the connection
	// id under any configured key.
	UpstreamSignatureMismatch
	// UpstreamTokenInvalid: [UpstreamOptions.VerifyToken] refused the
	// bearer token.
	UpstreamTokenInvalid
	// UpstreamUnauthenticated: the call carries neither a signature nor a
	// bearer token, and there is no key to require a signature with.
	UpstreamUnauthenticated
	// UpstreamUnknownHub: the call is for a hub that is not served.
	UpstreamUnknownHub
	// UpstreamHandlerFailed: a connection-event handler failed.
	UpstreamHandlerFailed
	// UpstreamNotConfigured: there is no validator to authenticate the
	// call with.
	UpstreamNotConfigured
)

var upstreamKinds = [...]struct {
	name   string
	status int
}{
	{},
	{"missing_header", http.StatusBadRequest},
	{"unsupported_media_type", http.StatusUnsupportedMediaType},
	{"invalid_body", http.StatusBadRequest},
	{"body_too_large", http.StatusRequestEntityTooLarge},
	{"signature_missing", http.StatusUnauthorized},
	{"signature_malformed", http.StatusUnauthorized},
	{"signature_mismatch", http.StatusUnauthorized},
	{"token_invalid", http.StatusUnauthorized},
	{"unauthenticated", http.StatusUnauthorized},
	{"unknown_hub", http.StatusNotFound},
	{"handler_failed", http.StatusInternalServerError},
	{"not_configured", http.StatusInternalServerError},
}

// String returns the kind in lower snake case, e.g. "signature_mismatch".
func (k UpstreamErrorKind) String() string {
	if k > 0 && int(k) < len(upstreamKinds) {
		return upstreamKinds[k].name
	}
	return "UpstreamErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// HTTPStatus returns the status an upstream endpoint answers a call refused
// for this kind with: 400 for missing headers or a bad body, 401 for a
// missing, malformed or wrong signature (or token), 404 for another hub,
// 413 for a body over the limit, 415 for another content type, 500 for the
// endpoint's own failures (and for an unknown kind).
func (k UpstreamErrorKind) HTTPStatus() int {
	if k > 0 && int(k) < len(upstreamKinds) {
		return upstreamKinds[k].status
	}
	return http.StatusInternalServerError
}

// UpstreamError is why an upstream call was refused. Kind says why (and
// [UpstreamErrorKind.HTTPStatus] the status to answer); Message says what
// is wrong without repeating secrets.
type UpstreamError struct {
	Kind    UpstreamErrorKind
	Message string
}

// Error returns the message.
func (e *UpstreamError) Error() string { return "signalr: upstream: " + e.Message }

func upstreamErr(kind UpstreamErrorKind, msg string) *UpstreamError {
	return &UpstreamError{Kind: kind, Message: msg}
}
