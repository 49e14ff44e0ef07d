package signalr

import (
	"context"
	"crypto/tls"
	"errors"
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

// callState is shared by the tries of one call.
type callState struct {
	caller context.Context // the caller's context, before the retry budget
	op     opInfo
	mu     sync.Mutex
	tried  bool
	resp   *http.Response // the last try's result
	err    error
}

type callStateKey struct{}

// tryState records what net/http did during one try.
type tryState struct {
	mu             sync.Mutex
	reachedNetwork bool // the request passed the auth policies
	wrote          bool // the whole request was written
	tlsErr         error
	dialErr        error
}

type tryStateKey struct{}

func (s *tryState) trace() *httptrace.ClientTrace {
	set := func(dst *error, err error) {
		if err != nil {
			s.mu.Lock()
			*dst = err
			s.mu.Unlock()
		}
	}
	return &httptrace.ClientTrace{
		DNSDone:          func(i httptrace.DNSDoneInfo) { set(&s.dialErr, i.Err) },
		ConnectDone:      func(_, _ string, err error) { set(&s.dialErr, err) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) { set(&s.tlsErr, err) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				s.mu.Lock()
				s.wrote = true
				s.mu.Unlock()
			}
		},
	}
}

// final marks an error azcore's retry policy must not retry.
type final struct{ error }

func (final) NonRetriable()   {}
func (f final) Unwrap() error { return f.error }

// callPolicy runs before azcore's retry policy: it bounds the call by the
// retry budget, tells the retry policy which statuses it may retry for this
// operation, and returns the last try's typed result when the budget or the
// caller's deadline ends the retries (azcore would return the bare context
// error).
func (c *Client) callPolicy(req *policy.Request) (*http.Response, error) {
	var op opInfo
	req.OperationValue(&op)
	caller := req.Raw().Context()
	st := &callState{caller: caller, op: op}
	budget, r := c.budget, c.retry
	if op.timeout > 0 {
		r.TryTimeout = op.timeout
		budget = max(budget, op.timeout+r.MaxRetryDelay)
	}
	ctx, cancel := context.WithTimeout(context.WithValue(caller, callStateKey{}, st), budget)
	defer cancel()
	r.StatusCodes = retryIdempotentStatus
	if op.send {
		r.StatusCodes = retrySendStatus
	}
	ctx = policy.WithRetryOptions(ctx, r)
	resp, err := req.Clone(ctx).Next()
	var f final
	if errors.As(err, &f) {
		err = f.error
	}
	if err != nil && ctx.Err() != nil {
		st.mu.Lock()
		if st.tried {
			resp, err = st.resp, st.err
		}
		st.mu.Unlock()
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

// tryPolicy runs each try: it asks the circuit breaker, traces the try,
// classifies its result, reports it to the breaker and marks errors that
// must not be retried.
func (c *Client) tryPolicy(req *policy.Request) (*http.Response, error) {
	st, _ := req.Raw().Context().Value(callStateKey{}).(*callState)
	if st == nil { // a caller's own pipeline; not expected
		st = &callState{caller: req.Raw().Context()}
		req.OperationValue(&st.op)
	}
	var done func(outcome)
	if st.op.probe {
		done = c.breaker.bypass()
	} else {
		var ok bool
		if done, ok = c.breaker.allow(); !ok {
			return nil, final{&CircuitOpenError{Operation: st.op.name, Endpoint: c.serverBase, State: c.breaker.current()}}
		}
	}
	ts := &tryState{}
	tryCtx := req.Raw().Context()
	ctx := httptrace.WithClientTrace(context.WithValue(tryCtx, tryStateKey{}, ts), ts.trace())
	resp, err := req.Clone(ctx).Next()
	timedOut := errors.Is(tryCtx.Err(), context.DeadlineExceeded)
	v := c.classify(st, timedOut, ts, resp, err)
	switch {
	case v.skip:
		done(outcomeExcluded)
	case v.sick:
		done(outcomeSick)
	default:
		done(outcomeHealthy)
	}
	if v.err != nil {
		err = v.err
	}
	st.mu.Lock()
	st.tried, st.resp, st.err = true, resp, err
	st.mu.Unlock()
	if err != nil {
		if !v.retry {
			err = final{err}
		}
		c.log.Debug("signalr: try failed", "op", st.op.name, "retry", v.retry, "error", err)
	} else if resp != nil && resp.StatusCode >= 400 {
		c.log.Debug("signalr: try answered", "op", st.op.name, "status", resp.StatusCode)
	}
	return resp, err
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
	retry bool // the error may be retried (statuses: see callPolicy)
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
		return verdict{skip: true, err: c.connError(st, kind, ts.wrote, errors.Join(st.caller.Err(), err))}
	case !ts.reachedNetwork:
		// The bearer token policy or the signer failed: not the endpoint.
		return verdict{skip: true, err: c.connError(st, ConnectionCredential, false, err)}
	case ts.tlsErr != nil:
		return verdict{sick: true, err: c.connError(st, ConnectionTLS, false, err)}
	}
	kind := ConnectionFailed
	switch {
	case timedOut || netutil.IsTimeout(err):
		kind = ConnectionTimeout
	case ts.dialErr != nil, !ts.wrote:
		kind = ConnectionUnreachable
	}
	return verdict{retry: !ts.wrote || !st.op.send, sick: true, err: c.connError(st, kind, ts.wrote, err)}
}
