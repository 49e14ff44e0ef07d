package apperr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/serverless-signalr/functions-go/signalr"
)

// FromSignalR maps an error of the signalr SDK onto the taxonomy: the one
// place where the SDK's typed errors (connection strings, arguments, the
// service's answers, transport failures, refused upstream calls) become the
// handler's codes. The
// message keeps the SDK's text (and the service's error code); the hint is
// the code's registered fix. Errors the SDK did not produce become
// [CodeServiceTimeout] for a deadline and [CodeServiceError] otherwise.
func FromSignalR(err error) *Error {
	if err == nil {
		return nil
	}
	// Already mapped (a caller that knows more, e.g. which feature a 404
	// means): kept as is.
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	var (
		cse *signalr.ConnectionStringError
		re  *signalr.ResponseError
		ce  *signalr.ConnectionError
		co  *signalr.CircuitOpenError
		ae  *signalr.ArgumentError
		pe  *signalr.PayloadTooLargeError
		ue  *signalr.UpstreamError
	)
	code := CodeServiceError
	msg := err.Error()
	switch {
	case errors.As(err, &cse):
		return &Error{Code: connectionStringCode(cse.Kind), Message: cse.Message, Err: err}
	case errors.As(err, &ue):
		return &Error{Code: upstreamCode(ue.Kind), Message: ue.Message, Err: err}
	case signalr.IsOutcomeUnknown(err):
		// Before the status mapping: a send that may have been delivered
		// must never be answered with a hint to retry it.
		code = CodeServiceOutcomeUnknown
	case errors.As(err, &co):
		code = CodeServiceCircuitOpen
	case errors.As(err, &re):
		code = statusCode(re)
		if re.ErrorCode != "" {
			msg = fmt.Sprintf("%s (service error code %s)", msg, re.ErrorCode)
		}
	case errors.As(err, &ce):
		code = connectionCode(ce.Kind)
	case errors.As(err, &pe):
		code = CodeBroadcastTooLarge
	case errors.As(err, &ae):
		code = argumentCode(ae.Name)
	case errors.Is(err, context.DeadlineExceeded):
		code = CodeServiceTimeout
	}
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	return &Error{Code: code, Message: strings.ToValidUTF8(msg, ""), Err: err}
}

// connectionStringCode is the config.connection_string.* code of a kind.
func connectionStringCode(k signalr.ConnectionStringErrorKind) string {
	switch k {
	case signalr.ConnectionStringEmpty:
		return CodeConfigConnStrMissing
	case signalr.ConnectionStringMalformed:
		return CodeConfigConnStrMalformed
	case signalr.ConnectionStringDuplicateKey:
		return CodeConfigConnStrDuplicate
	case signalr.ConnectionStringMissingEndpoint:
		return CodeConfigConnStrMissingEndpoint
	case signalr.ConnectionStringInvalidEndpoint:
		return CodeConfigConnStrInvalidEndpoint
	case signalr.ConnectionStringInvalidVersion:
		return CodeConfigConnStrInvalidVersion
	case signalr.ConnectionStringInvalidPort:
		return CodeConfigConnStrInvalidPort
	case signalr.ConnectionStringInvalidClientEndpoint:
		return CodeConfigConnStrInvalidClientEP
	case signalr.ConnectionStringInvalidServerEndpoint:
		return CodeConfigConnStrInvalidServerEP
	case signalr.ConnectionStringMissingAccessKey:
		return CodeConfigConnStrMissingAccessKey
	case signalr.ConnectionStringMissingClientID:
		return CodeConfigConnStrMissingClientID
	case signalr.ConnectionStringMissingTenantID:
		return CodeConfigConnStrMissingTenantID
	case signalr.ConnectionStringMissingClientSecret:
		return CodeConfigConnStrMissingAppSecret
	}
	return CodeConfigInvalid
}

// upstreamCode is the upstream.* code of a refused upstream call's kind.
func upstreamCode(k signalr.UpstreamErrorKind) string {
	switch k {
	case signalr.UpstreamMissingHeader:
		return CodeUpstreamMissingHeader
	case signalr.UpstreamUnsupportedMediaType:
		return CodeUpstreamUnsupportedMedia
	case signalr.UpstreamInvalidBody:
		return CodeUpstreamInvalidBody
	case signalr.UpstreamBodyTooLarge:
		return CodeUpstreamBodyTooLarge
	case signalr.UpstreamSignatureMissing:
		return CodeUpstreamSignatureMissing
	case signalr.UpstreamSignatureMalformed:
		return CodeUpstreamSignatureMalformed
	case signalr.UpstreamSignatureMismatch:
		return CodeUpstreamSignatureMismatch
	case signalr.UpstreamTokenInvalid:
		return CodeUpstreamTokenInvalid
	case signalr.UpstreamUnauthenticated:
		return CodeUpstreamUnauthenticated
	case signalr.UpstreamUnknownHub:
		return CodeUpstreamUnknownHub
	case signalr.UpstreamHandlerFailed:
		return CodeUpstreamEventFailed
	case signalr.UpstreamNotConfigured:
		return CodeUpstreamNotConfigured
	}
	return CodeInternal
}

// statusCode maps the service's answer to a code.
func statusCode(re *signalr.ResponseError) string {
	switch s := re.StatusCode; {
	case s == http.StatusNotFound && strings.HasSuffix(re.ErrorCode, ".Connection.NotExisted"):
		return CodeServiceConnectionNotFound
	case s == http.StatusBadRequest, s == http.StatusRequestEntityTooLarge:
		return CodeServiceBadRequest
	case s == http.StatusUnauthorized:
		return CodeServiceUnauthorized
	case s == http.StatusForbidden:
		return CodeServiceForbidden
	case s == http.StatusNotFound:
		return CodeServiceNotFound
	case s == http.StatusTooManyRequests:
		return CodeServiceThrottled
	case s == http.StatusRequestTimeout, s == http.StatusGatewayTimeout:
		return CodeServiceTimeout
	case s == http.StatusInternalServerError:
		return CodeServiceError
	case s >= 500:
		return CodeServiceUnavailable
	}
	return CodeServiceError
}

// connectionCode maps a failure without an answer to a code.
func connectionCode(k signalr.ConnectionErrorKind) string {
	switch k {
	case signalr.ConnectionUnreachable:
		return CodeServiceUnreachable
	case signalr.ConnectionTLS:
		return CodeServiceTLS
	case signalr.ConnectionTimeout:
		return CodeServiceTimeout
	case signalr.ConnectionCredential:
		return CodeServiceUnauthorized
	}
	return CodeServiceError
}

// argumentCode maps an argument the SDK refused to a broadcast code.
func argumentCode(name string) string {
	switch name {
	case signalr.ArgHub:
		return CodeBroadcastInvalidHub
	case signalr.ArgGroup:
		return CodeBroadcastInvalidGroup
	case signalr.ArgUserID, signalr.ArgConnectionID:
		return CodeBroadcastMissingID
	case signalr.ArgTarget:
		return CodeBroadcastMissingTarget
	}
	return CodeBroadcastInvalid
}
