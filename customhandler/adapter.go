package customhandler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// Header names the host sets on its own requests to the handler.
const (
	HeaderInvocationID = "X-Azure-Functions-InvocationId"
	HeaderHostVersion  = "X-Azure-Functions-HostVersion"
)

// Options configures [Handler].
type Options struct {
	// Trigger is the name of the httpTrigger binding in function.json;
	// default "req".
	Trigger string
	// Output is the name of the http output binding in function.json;
	// default "res".
	Output string
	// MaxBodyBytes bounds the invocation envelope the host sends, the
	// caller's JSON-escaped body included; default [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// WriteError writes the caller's response for the failures Handler
	// answers itself (see [CodeInvalidEnvelope], [CodeBodyTooLarge],
	// [CodeInternal]), so an application can render them with its own error
	// type; default [WriteError].
	WriteError func(w http.ResponseWriter, status int, code, message, hint string)
	// Logger receives a Warn record per envelope that cannot be decoded and
	// an Error record per panic of the wrapped handler; default
	// slog.Default().
	Logger *slog.Logger
}

// Handler returns an http.Handler for the JSON mode of one function: mount
// it at "POST /<FunctionName>". It decodes the host's invocation envelope,
// rebuilds the caller's request with [HTTPTrigger.NewRequest] (context from
// the host's request, X-Azure-Functions-InvocationId and -HostVersion copied
// when the caller's headers lack them, RemoteAddr of the host's request),
// serves it with h into an in-memory response, and answers the host.
//
// The host always gets status 200 with Content-Type application/json and an
// [InvocationResponse] whose Outputs.<Output> is an [HTTPOutput] carrying the
// caller's status, headers and body, and whose Logs are the lines passed to
// [Log] during the invocation. A non-2xx answer would make the host fail the
// invocation and send the caller a bare 500, so failures are carried in
// statusCode instead: an envelope that cannot be decoded becomes 400
// request.invalid_envelope, one over MaxBodyBytes 413 request.body_too_large,
// and a panic in h 500 internal (http.ErrAbortHandler is re-panicked).
func Handler(h http.Handler, opts Options) http.Handler {
	if opts.Trigger == "" {
		opts.Trigger = "req"
	}
	if opts.Output == "" {
		opts.Output = "res"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WriteError == nil {
		opts.WriteError = WriteError
	}
	return &adapter{next: h, opts: opts}
}

type adapter struct {
	next http.Handler
	opts Options
}

// ServeHTTP handles the "POST /<FunctionName>" route of the host.
func (a *adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	inv := &invocation{}
	out := a.invoke(inv, r)
	answer(w, a.opts.Output, out, inv.take())
}

// Respond answers the host for one JSON-mode invocation without reading its
// envelope: h writes the caller's response (for example 503 with
// Retry-After when the app sheds load before reading a body), which the
// host gets, as from [Handler], with status 200 in Outputs.<output> (default
// "res"). h sees the host's request, not the caller's.
func Respond(w http.ResponseWriter, r *http.Request, output string, h http.Handler) {
	if output == "" {
		output = "res"
	}
	bw := newBufferedWriter()
	h.ServeHTTP(bw, r)
	answer(w, output, bw.output(false), []string{})
}

// answer writes the host's 200 application/json InvocationResponse.
func answer(w http.ResponseWriter, output string, out HTTPOutput, logs []string) {
	resp := InvocationResponse{
		Outputs:     map[string]any{output: out},
		Logs:        logs,
		ReturnValue: nil,
	}
	b, err := json.Marshal(resp)
	if err != nil { // cannot happen: only strings, ints and maps of them
		panic(fmt.Sprintf("customhandler: encoding the invocation response: %v", err))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// invoke decodes the envelope and serves the rebuilt request, returning the
// caller's response.
func (a *adapter) invoke(inv *invocation, r *http.Request) HTTPOutput {
	var (
		in  *InvocationRequest
		t   *HTTPTrigger
		req *http.Request
		err error
	)
	if r.ContentLength > a.opts.MaxBodyBytes {
		err = &DecodeError{Path: "body", Reason: "is larger than " + strconv.FormatInt(a.opts.MaxBodyBytes, 10) + " bytes", Err: ErrBodyTooLarge}
	} else if in, err = DecodeInvocation(r.Body, a.opts.MaxBodyBytes); err == nil {
		if t, err = in.HTTPTrigger(a.opts.Trigger); err == nil {
			ctx := context.WithValue(r.Context(), invocationKey{}, inv)
			if req, err = t.NewRequest(ctx); err != nil {
				var de *DecodeError
				if errors.As(err, &de) {
					de.Path = "Data." + pathKey(a.opts.Trigger) + "." + de.Path
				}
			}
		}
	}
	if err != nil {
		return a.envelopeError(r, err)
	}
	for _, name := range []string{HeaderInvocationID, HeaderHostVersion} {
		if v := r.Header.Get(name); v != "" && req.Header.Get(name) == "" {
			req.Header.Set(name, v)
		}
	}
	req.RemoteAddr = r.RemoteAddr
	return a.serve(req)
}

// serve runs the wrapped handler, turning a panic into a 500 response.
func (a *adapter) serve(req *http.Request) (out HTTPOutput) {
	bw := newBufferedWriter()
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		a.opts.Logger.LogAttrs(req.Context(), slog.LevelError, "customhandler: handler panicked",
			slog.String("panic", fmt.Sprint(p)), slog.String("invocation_id", req.Header.Get(HeaderInvocationID)))
		ew := newBufferedWriter()
		a.opts.WriteError(ew, http.StatusInternalServerError, CodeInternal, "The handler failed unexpectedly.",
			"The handler's log has the panic (customhandler: handler panicked).")
		out = ew.output(false)
	}()
	a.next.ServeHTTP(bw, req)
	return bw.output(req.Method == http.MethodHead)
}

// envelopeError renders an envelope that cannot be decoded as the caller's
// 400 or 413 response. The message names the JSON path at fault and never a
// value.
func (a *adapter) envelopeError(r *http.Request, err error) HTTPOutput {
	status, code, msg, hint := http.StatusBadRequest, CodeInvalidEnvelope, err.Error(),
		fmt.Sprintf("Check that function.json has one httpTrigger named %q and one http output named %q.", a.opts.Trigger, a.opts.Output)
	if errors.Is(err, ErrBodyTooLarge) {
		status, code, hint = http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "Send a smaller request body."
		msg = "The invocation envelope is larger than " + strconv.FormatInt(a.opts.MaxBodyBytes, 10) + " bytes."
	}
	a.opts.Logger.LogAttrs(r.Context(), slog.LevelWarn, "customhandler: invocation envelope rejected",
		slog.String("code", code), slog.String("error", err.Error()),
		slog.String("invocation_id", r.Header.Get(HeaderInvocationID)))
	bw := newBufferedWriter()
	a.opts.WriteError(bw, status, code, msg, hint)
	return bw.output(false)
}
