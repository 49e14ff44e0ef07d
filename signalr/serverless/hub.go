package serverless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/serverless-signalr/functions-go/signalr"
)

// DefaultTimeout bounds one hub method or event handler when
// [Options.Timeout] is zero.
const DefaultTimeout = 30 * time.Second

// Options configures [New].
type Options struct {
	// Validator authenticates and parses upstream calls for
	// [Hub.ServeHTTP]. It is not needed when calls arrive otherwise (the
	// Functions host's signalRTrigger, see [Hub.Dispatch]).
	Validator *signalr.UpstreamValidator
	// Clients are the REST clients of the service endpoints, one per
	// endpoint (the order of [signalr.UpstreamOptions.Endpoints]); the
	// context's [Clients] sends through them.
	Clients []*signalr.Client
	// Timeout bounds every handler call; default [DefaultTimeout]. A method
	// still running then is answered with an error completion; its context
	// is cancelled.
	Timeout time.Duration
	// Logger receives handler failures (error returns at Debug, panics
	// and timeouts at Error); default slog.Default().
	Logger *slog.Logger
	// OnError writes the answer to an upstream call that was refused or
	// whose connection-event handler failed; default: a JSON
	// {"error":{"code","message"}} whose code is err.Kind's String, with
	// err.Kind's HTTPStatus.
	OnError func(w http.ResponseWriter, r *http.Request, err *signalr.UpstreamError)
}

// Hub is a serverless hub: connected and disconnected handlers and methods
// registered by name, called for the upstream calls of one hub. Register
// everything before serving; then a Hub is safe for concurrent use.
type Hub struct {
	name           string
	opts           Options
	methods        map[string]*method // lower-cased name, as hub method names are case-insensitive in SignalR
	onConnected    func(*Context) error
	onDisconnected func(*Context) error
}

// New returns a hub named name (compared case-insensitively with
// X-ASRS-Hub).
func New(name string, opts Options) *Hub {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.OnError == nil {
		opts.OnError = writeJSONError
	}
	return &Hub{name: name, opts: opts, methods: map[string]*method{}}
}

// Name returns the hub's name.
func (h *Hub) Name() string { return h.name }

// OnConnected sets the handler of the connected event.
func (h *Hub) OnConnected(fn func(c *Context) error) { h.onConnected = fn }

// OnDisconnected sets the handler of the disconnected event; c.Error is the
// reason the connection ended ("" for a clean close).
func (h *Hub) OnDisconnected(fn func(c *Context) error) { h.onDisconnected = fn }

// method is a registered hub method.
type method struct {
	name   string
	fn     reflect.Value
	args   []reflect.Type
	result bool // returns a value
	err    bool // returns an error (last)
}

var (
	contextType = reflect.TypeFor[*Context]()
	errorType   = reflect.TypeFor[error]()
)

// Method registers fn as the hub method name (matched case-insensitively,
// as SignalR does). fn is a func whose first parameter is *[Context] and
// whose other parameters receive the client's arguments, decoded from JSON
// or MessagePack into their Go types; it returns nothing, an error, a
// value, or a value and an error:
//
//	hub.Method("add", func(c *serverless.Context, a, b int) (int, error) { return a + b, nil })
//
// The value becomes the completion's result; an error becomes an error
// completion whose message (err.Error()) the client sees. Method panics
// when fn has another shape or name is already registered, like
// http.HandleFunc.
func (h *Hub) Method(name string, fn any) {
	v := reflect.ValueOf(fn)
	t := v.Type()
	bad := func(why string) {
		panic("serverless: Method " + strconv.Quote(name) + ": " + why + " (want func(*serverless.Context, args...) [(result)] [error])")
	}
	if name == "" {
		bad("empty name")
	}
	if t.Kind() != reflect.Func || t.IsVariadic() {
		bad("not a non-variadic func")
	}
	if t.NumIn() == 0 || t.In(0) != contextType {
		bad("the first parameter is not *serverless.Context")
	}
	m := &method{name: name, fn: v}
	for i := 1; i < t.NumIn(); i++ {
		m.args = append(m.args, t.In(i))
	}
	switch t.NumOut() {
	case 0:
	case 1:
		m.err = t.Out(0) == errorType
		m.result = !m.err
	case 2:
		if t.Out(1) != errorType {
			bad("the second result is not error")
		}
		m.result, m.err = true, true
	default:
		bad("more than two results")
	}
	key := strings.ToLower(name)
	if _, dup := h.methods[key]; dup {
		bad("registered twice")
	}
	h.methods[key] = m
}

// ServeHTTP serves the upstream calls of the hub: it authenticates and
// parses the call with [Options.Validator], dispatches it and answers with
// the completion (or 204). Calls for another hub get 404.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.Validator == nil {
		h.opts.OnError(w, r, &signalr.UpstreamError{Kind: signalr.UpstreamNotConfigured, Message: "the hub has no upstream validator"})
		return
	}
	u, err := h.opts.Validator.Parse(r)
	if err != nil {
		var ue *signalr.UpstreamError
		if !errors.As(err, &ue) {
			ue = &signalr.UpstreamError{Kind: signalr.UpstreamInvalidBody, Message: err.Error()}
		}
		h.opts.OnError(w, r, ue)
		return
	}
	res := h.Dispatch(r.Context(), u)
	switch {
	case res.Refused != nil:
		h.opts.OnError(w, r, res.Refused)
	case res.Error != "":
		signalr.WriteUpstreamError(w, u, res.Error)
	default:
		if err := signalr.WriteUpstreamResult(w, u, res.Value); err != nil {
			h.opts.Logger.Warn("serverless: result not encodable", "hub", h.name, "method", u.Target, "error", err)
		}
	}
}

const unknownMethodFmt = "Method %q does not exist on hub %q."

// Result is the outcome of [Hub.Dispatch].
type Result struct {
	// Value is the method's result (nil: void).
	Value any
	// Error is the message of an error completion ("" on success).
	Error string
	// Refused is set when the call must not be answered with a completion
	// but with an HTTP error: another hub ([signalr.UpstreamUnknownHub]),
	// or a failed connection event ([signalr.UpstreamHandlerFailed]).
	Refused *signalr.UpstreamError
}

// Dispatch runs the handler for u (already authenticated) within the
// per-call timeout and returns what to answer. Unknown methods, argument
// mismatches, returned errors, panics and timeouts become error messages
// for the client; the connection stays open.
func (h *Hub) Dispatch(ctx context.Context, u *signalr.UpstreamRequest) Result {
	if !strings.EqualFold(u.Hub, h.name) {
		return Result{Refused: &signalr.UpstreamError{Kind: signalr.UpstreamUnknownHub,
			Message: fmt.Sprintf("hub %q is not served here (this upstream serves %q)", clip(u.Hub), h.name)}}
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	c := h.newContext(ctx, u)
	if u.Category == signalr.UpstreamConnections {
		fn := h.onConnected
		if u.Event == signalr.UpstreamDisconnected {
			fn = h.onDisconnected
		}
		if fn == nil {
			return Result{}
		}
		_, msg := h.run(c, u.Event, func() (any, error) { return nil, fn(c) })
		if msg != "" {
			return Result{Refused: &signalr.UpstreamError{Kind: signalr.UpstreamHandlerFailed, Message: "the " + u.Event + " handler failed: " + msg}}
		}
		return Result{}
	}
	m := h.methods[strings.ToLower(u.Target)]
	if m == nil {
		h.opts.Logger.Debug("serverless: unknown method", "hub", h.name, "method", clip(u.Target))
		return Result{Error: fmt.Sprintf(unknownMethodFmt, clip(u.Target), h.name)}
	}
	in, msg := m.decode(c, u)
	if msg != "" {
		return Result{Error: msg}
	}
	v, msg := h.run(c, m.name, func() (any, error) { return m.call(in) })
	return Result{Value: v, Error: msg}
}

// decode builds the call's arguments.
func (m *method) decode(c *Context, u *signalr.UpstreamRequest) ([]reflect.Value, string) {
	if len(u.RawArguments) != len(m.args) {
		return nil, fmt.Sprintf("Method %q takes %d argument%s, the invocation has %d.", m.name, len(m.args), plural(len(m.args)), len(u.RawArguments))
	}
	in := make([]reflect.Value, 1+len(m.args))
	in[0] = reflect.ValueOf(c)
	for i, t := range m.args {
		p := reflect.New(t)
		if err := u.DecodeArgument(i, p.Interface()); err != nil {
			return nil, fmt.Sprintf("Argument %d of %q cannot be read as %s: %s", i+1, m.name, t, argErrText(err))
		}
		in[1+i] = p.Elem()
	}
	return in, ""
}

func (m *method) call(in []reflect.Value) (any, error) {
	out := m.fn.Call(in)
	var v any
	var err error
	if m.result {
		if r := out[0]; !isNilValue(r) {
			v = r.Interface()
		}
	}
	if m.err {
		if e := out[len(out)-1]; !e.IsNil() {
			err = e.Interface().(error)
		}
	}
	return v, err
}

func isNilValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// run calls fn in its own goroutine so that a method that ignores its
// context still cannot hold the answer past the timeout; it recovers
// panics. It returns the value and the client's error message.
func (h *Hub) run(c *Context, name string, fn func() (any, error)) (any, string) {
	type outcome struct {
		v   any
		err error
		pan any
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if p := recover(); p != nil {
				o = outcome{pan: p}
				h.opts.Logger.Error("serverless: hub method panicked", "hub", h.name, "method", name, "connection", c.ConnectionID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			done <- o
		}()
		o.v, o.err = fn()
	}()
	select {
	case o := <-done:
		switch {
		case o.pan != nil:
			return nil, fmt.Sprintf("An unexpected error occurred invoking %q on the server.", name)
		case o.err != nil:
			h.opts.Logger.Debug("serverless: hub method failed", "hub", h.name, "method", name, "error", o.err)
			msg := o.err.Error()
			if msg == "" {
				msg = fmt.Sprintf("%q failed.", name)
			}
			return nil, msg
		}
		return o.v, ""
	case <-c.Done():
		h.opts.Logger.Error("serverless: hub method timed out", "hub", h.name, "method", name, "timeout", h.opts.Timeout.String())
		return nil, fmt.Sprintf("%q did not finish within %s.", name, h.opts.Timeout)
	}
}

func argErrText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "got a JSON " + te.Value
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "malformed JSON"
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// writeJSONError is the default [Options.OnError].
func writeJSONError(w http.ResponseWriter, _ *http.Request, e *signalr.UpstreamError) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": e.Kind.String(), "message": e.Message}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Kind.HTTPStatus())
	w.Write(b)
}
