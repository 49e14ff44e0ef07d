// Package apperr is the one error type every client-facing failure of the
// handler is expressed in. An [Error] carries a stable dotted code (see
// codes.go), a message saying what went wrong and a hint saying how to fix
// it. The HTTP status of a code is decided in one place, [Status], and the
// JSON shape clients see is decided in one place, [Write] (customhandler.WriteError's
// shape, which the envelope adapter's own errors share).
package apperr

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/serverless-signalr/functions-go/customhandler"
)

// Error is a client-facing failure with a stable code.
//
// Message and Hint must never contain secrets (access keys, tokens): they are
// written to clients and to logs as they are.
type Error struct {
	// Code is a stable dotted code such as "negotiate.unauthenticated".
	Code string
	// Message says what went wrong, in one sentence.
	Message string
	// Hint says how to fix it; it may be empty, in which case the code's
	// default fix from the registry is used.
	Hint string
	// Err is the underlying cause, kept for errors.Is/As and logs; it is
	// never shown to clients.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// New returns an *Error with the given code, message and hint.
func New(code, message, hint string) *Error {
	return &Error{Code: code, Message: message, Hint: hint}
}

// Wrap returns an *Error with the given code and message whose cause is err.
func Wrap(err error, code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Code returns the code of the first *Error in err's chain, or
// [CodeInternal] when there is none.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// As returns the first *Error in err's chain, or an internal error wrapping
// err when there is none. The internal error's message is generic so that
// nothing of the cause reaches the client.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "The handler failed unexpectedly.", Err: err}
}

// Body is the JSON document clients receive: {"error":{"code","message","hint"}}.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the inner object of [Body].
type BodyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// Body returns the JSON body of e, filling the hint from the registry when e
// has none.
func (e *Error) Body() Body {
	hint := e.Hint
	if hint == "" {
		if info, ok := Lookup(e.Code); ok {
			hint = info.Fix
		}
	}
	return Body{Error: BodyError{Code: e.Code, Message: e.Message, Hint: hint}}
}

// Write writes err to w as a JSON error body with the status of its code,
// and returns that status. Errors that are not *Error become
// [CodeInternal] with a generic message.
func Write(w http.ResponseWriter, err error) int {
	e := As(err)
	status := Status(e.Code)
	b := e.Body().Error
	customhandler.WriteError(w, status, b.Code, b.Message, b.Hint)
	return status
}
