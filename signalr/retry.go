package signalr

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/serverless-signalr/functions-go/internal/netutil"
)

// Status codes retried per kind of operation (see the package's retry rule).
var (
	// A send is retried only when the service rejected it unprocessed.
	retrySendStatus = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusServiceUnavailable}
	// Idempotent operations are also retried on 500, 502 and 504.
	retryIdempotentStatus = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
)

// opInfo travels with each request as an azcore operation value.
type opInfo struct {
	name     string        // client method, e.g. "SendToAll"
	send     bool          // POST …/:send: never retried once it may have been acted on
	probe    bool          // a health probe: passes an open breaker, and its success closes it
	audience string        // aud of the server token
	timeout  time.Duration // per-try timeout override (see call.timeout)
}

// retryFor returns the retry options and the budget of op's call, the
// same on both request paths: the client's options with the statuses op
// may be retried on (retrySendStatus for a send), and op's own try timeout.
func (c *Client) retryFor(op opInfo) (policy.RetryOptions, time.Duration) {
	budget, r := c.budget, c.retry
	if op.timeout > 0 {
		r.TryTimeout = op.timeout
		budget = max(budget, op.timeout+r.MaxRetryDelay)
	}
	r.StatusCodes = retryIdempotentStatus
	if op.send {
		r.StatusCodes = retrySendStatus
	}
	return r, budget
}

// callState is shared by the tries of one call.
type callState struct {
	caller context.Context // the caller's context, before the retry budget
	op     opInfo
	tried  bool           // the tries run one after the other on one goroutine
	resp   *http.Response // the last try's result
	err    error

	// The direct path's request (see doDirect): base carries the method,
	// URL and headers of every try, body is sent afresh by each.
	base    *http.Request
	body    []byte
	getBody func() (io.ReadCloser, error)
}

type callStateKey struct{}

// tryState records what net/http did during one try. Its trace learns
// only what the retry rule needs: whether the request was written (see
// written) and whether the TLS handshake failed. (A failed dial leaves the request
// unwritten, which is all the rule asks of it.)
type tryState struct {
	mu             sync.Mutex
	reachedNetwork bool // the request passed authorization
	wrote          bool // net/http reported the whole request written
	tlsErr         error
	conn           *wireConn // the try's connection when it counts bytes (wire.go)
	before         int64     // its count when the try got it
	trace          httptrace.ClientTrace
}

type tryStateKey struct{}

// newTryState returns the state of one try with its trace hooks, the TLS
// one only when the endpoint is https.
func newTryState(https bool) *tryState {
	ts := &tryState{}
	ts.trace.WroteRequest = ts.wroteRequest
	ts.trace.GotConn = ts.gotConn
	if https {
		ts.trace.TLSHandshakeDone = ts.tlsDone
	}
	return ts
}

func (s *tryState) wroteRequest(i httptrace.WroteRequestInfo) {
	if i.Err == nil {
		s.mu.Lock()
		s.wrote = true
		s.mu.Unlock()
	}
}

func (s *tryState) tlsDone(_ tls.ConnectionState, err error) {
	if err != nil {
		s.mu.Lock()
		s.tlsErr = err
		s.mu.Unlock()
	}
}

// final marks an error azcore's retry policy must not retry.
type final struct{ error }

func (final) NonRetriable()   {}
func (f final) Unwrap() error { return f.error }

// callPolicy runs before azcore's retry policy (the pipeline path): it
// bounds the call by the retry budget, tells the retry policy which
// statuses it may retry for this operation, and returns the last try's
// typed result when the budget or the caller's deadline ends the retries
// (azcore would return the bare context error).
func (c *Client) callPolicy(req *policy.Request) (*http.Response, error) {
	var op opInfo
	req.OperationValue(&op)
	caller := req.Raw().Context()
	st := &callState{caller: caller, op: op}
	r, budget := c.retryFor(op)
	ctx, cancel := context.WithTimeout(context.WithValue(caller, callStateKey{}, st), budget)
	defer cancel()
	ctx = policy.WithRetryOptions(ctx, r)
	resp, err := req.Clone(ctx).Next()
	var f final
	if errors.As(err, &f) {
		err = f.error
	}
	if err != nil && ctx.Err() != nil {
		if st.tried {
			resp, err = st.resp, st.err
		}
		if err == nil {
			return resp, nil
		}
		var ce *ConnectionError
		if !errors.As(err, &ce) {
			err = c.connError(st, ConnectionTimeout, false, err)
		}
	}
	return resp, err
}

// tryPolicy runs each try of the pipeline path (see try) and marks the
// errors that must not be retried for azcore's retry policy.
func (c *Client) tryPolicy(req *policy.Request) (*http.Response, error) {
	st, _ := req.Raw().Context().Value(callStateKey{}).(*callState)
	if st == nil { // a caller's own pipeline; not expected
		st = &callState{caller: req.Raw().Context()}
		req.OperationValue(&st.op)
	}
	resp, retry, err := c.try(req.Raw().Context(), st, req)
	if err != nil && !retry {
		err = final{err}
	}
	return resp, err
}

// try runs one try of st's call with ctx (the try's deadline): the per-try
// half of the retry rule, shared by both request paths. It asks the
// circuit breaker, traces the request, sends it (through the rest of the
// pipeline when preq is set, else directly, see send), classifies the
// result, reports it to the breaker and records it as the call's last
// result. retry reports whether a failure may be retried; whether an
// answer's status may be is the caller's part (retryFor's StatusCodes).
func (c *Client) try(ctx context.Context, st *callState, preq *policy.Request) (resp *http.Response, retry bool, err error) {
	var tk ticket
	if st.op.probe {
		tk = c.breaker.bypass()
	} else {
		var ok bool
		if tk, ok = c.breaker.allow(); !ok {
			return nil, false, &CircuitOpenError{Operation: st.op.name, Endpoint: c.serverBase, State: c.breaker.current()}
		}
	}
	ts := newTryState(c.https)
	tctx := httptrace.WithClientTrace(ctx, &ts.trace)
	if preq != nil {
		resp, err = preq.Clone(context.WithValue(tctx, tryStateKey{}, ts)).Next()
	} else {
		resp, err = c.sendDirect(tctx, st, ts)
	}
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	v := c.classify(st, timedOut, ts, resp, err)
	switch {
	case v.skip:
		tk.done(outcomeExcluded)
	case v.sick:
		tk.done(outcomeSick)
	default:
		tk.done(outcomeHealthy)
	}
	if v.err != nil {
		err = v.err
	}
	st.tried, st.resp, st.err = true, resp, err
	if err != nil {
		c.log.Debug("signalr: try failed", "op", st.op.name, "retry", v.retry, "error", err)
	} else if resp != nil && resp.StatusCode >= 400 {
		c.log.Debug("signalr: try answered", "op", st.op.name, "status", resp.StatusCode)
	}
	return resp, v.retry, err
}

// networkMarker is the last per-try policy: it notes that the request got
// past authorization and is about to hit the transport.
func networkMarker(req *policy.Request) (*http.Response, error) {
	if s, ok := req.Raw().Context().Value(tryStateKey{}).(*tryState); ok {
		s.mu.Lock()
		s.reachedNetwork = true
		s.mu.Unlock()
	}
	return req.Next()
}

// verdict is the classification of one try.
type verdict struct {
	retry bool // the error may be retried (statuses: see retryFor)
	sick  bool // counts as a breaker failure
	skip  bool // neither success nor failure for the breaker
	err   error
}

func (c *Client) connError(st *callState, kind ConnectionErrorKind, written bool, err error) *ConnectionError {
	return &ConnectionError{Kind: kind, Operation: st.op.name, Endpoint: c.serverBase, Written: written, Err: err, send: st.op.send}
}

// classify decides whether a try may be retried and whether it counts
// against the endpoint's health.
func (c *Client) classify(st *callState, timedOut bool, ts *tryState, resp *http.Response, err error) verdict {
	if err == nil {
		return verdict{sick: resp.StatusCode >= 500}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var circuit *CircuitOpenError
	switch {
	case errors.As(err, &circuit):
		return verdict{skip: true, err: err}
	case st.caller.Err() != nil:
		kind := ConnectionCanceled
		if netutil.IsTimeout(st.caller.Err()) {
			kind = ConnectionTimeout
		}
		return verdict{skip: true, err: c.connError(st, kind, ts.written(), errors.Join(st.caller.Err(), err))}
	case !ts.reachedNetwork:
		// The bearer token policy or the signer failed: not the endpoint.
		return verdict{skip: true, err: c.connError(st, ConnectionCredential, false, err)}
	case ts.tlsErr != nil:
		return verdict{sick: true, err: c.connError(st, ConnectionTLS, false, err)}
	}
	wrote := ts.written()
	kind := ConnectionFailed
	switch {
	case timedOut || netutil.IsTimeout(err):
		kind = ConnectionTimeout
	case !wrote:
		kind = ConnectionUnreachable
	}
	return verdict{retry: !wrote || !st.op.send, sick: true, err: c.connError(st, kind, wrote, err)}
}
