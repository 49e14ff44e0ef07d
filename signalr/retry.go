package signalr

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// RetryOptions bounds the retries of one REST call. The zero value selects
// the defaults.
//
// # Retry rule
//
// A message is never sent twice. A send (POST …/:send) is retried only when
// the service cannot have acted on it:
//   - the request was never completely written: DNS failure, connection
//     refused, connection reset or per-try timeout before the last byte of
//     the request left (observed with httptrace's WroteRequest);
//   - the service answered 408, 429 or 503 (it rejected the request).
//
// A send is not retried after 500, 502 or 504, nor after a timeout or a
// broken connection once the request was written: the service may have
// delivered the message. Every other operation (HEAD, PUT, DELETE, the
// idempotent POST :closeConnections and :generateToken, GET accessKey)
// is also retried on 500, 502, 504 and on timeouts or broken connections
// after the request was written. TLS handshake failures, failures to get an
// Entra ID token and cancellation by the caller are never retried.
//
// Delays use exponential backoff with full jitter: before try n+1 the client
// sleeps a uniformly random time in [0, min(MaxDelay, BaseDelay·2^(n-1))].
// A Retry-After header (delta seconds or HTTP date) on 429 and 503 replaces
// that delay. Nothing runs past MaxElapsed: each try's timeout is cut to the
// remaining budget, and a delay that would end beyond it stops the retries
// and returns the last result.
//
// The package implements this policy itself rather than using azcore's
// retry policy (which it disables): azcore's policy cannot tell whether a
// request was written before a failure, uses a 0.8–1.3× jitter instead of
// full jitter, and has no total time budget. The rest of azcore's pipeline
// (request bodies that rewind per try, response download, the Entra ID
// bearer token policy) is used as is.
type RetryOptions struct {
	// MaxTries is the number of tries including the first; default 3.
	// 1 disables retries.
	MaxTries int
	// BaseDelay is the backoff unit; default 200ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff delay; default 5s.
	MaxDelay time.Duration
	// MaxElapsed bounds the whole call including retries; default 30s.
	MaxElapsed time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.MaxTries <= 0 {
		o.MaxTries = 3
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 200 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 5 * time.Second
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = 30 * time.Second
	}
	return o
}

// backoff returns the full-jitter delay before try n+1 (n >= 1).
func (o RetryOptions) backoff(n int) time.Duration {
	ceiling := o.MaxDelay
	if n-1 < 30 {
		if d := o.BaseDelay << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// opInfo travels with each request as an azcore operation value.
type opInfo struct {
	name     string // client method, e.g. "SendToAll"
	send     bool   // POST …/:send: never retried once it may have been acted on
	audience string // aud of the server token
}

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
	return &httptrace.ClientTrace{
		DNSDone: func(i httptrace.DNSDoneInfo) {
			if i.Err != nil {
				s.mu.Lock()
				s.dialErr = i.Err
				s.mu.Unlock()
			}
		},
		ConnectDone: func(_, _ string, err error) {
			if err != nil {
				s.mu.Lock()
				s.dialErr = err
				s.mu.Unlock()
			}
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				s.mu.Lock()
				s.tlsErr = err
				s.mu.Unlock()
			}
		},
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				s.mu.Lock()
				s.wrote = true
				s.mu.Unlock()
			}
		},
	}
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

// retryPolicy runs the tries of one call, consulting the circuit breaker
// before each one. See [RetryOptions] for the rule.
type retryPolicy struct {
	opts       RetryOptions
	tryTimeout time.Duration
	breaker    *breaker
	endpoint   string
	now        func() time.Time
	log        *slog.Logger
}

// verdict is the classification of one try.
type verdict struct {
	retry bool
	sick  bool // counts as a breaker failure
	skip  bool // neither success nor failure for the breaker
	err   error
}

func (p *retryPolicy) Do(req *policy.Request) (*http.Response, error) {
	var op opInfo
	req.OperationValue(&op)
	parent := req.Raw().Context()
	start := time.Now()
	deadline := start.Add(p.opts.MaxElapsed)
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var (
		resp *http.Response
		err  error
	)
	for try := 1; ; try++ {
		done, berr := p.breaker.allow()
		if berr != nil {
			return nil, &CircuitOpenError{Code: CodeCircuitOpen, Operation: op.name, Endpoint: p.endpoint, State: p.breaker.state()}
		}
		if err := req.RewindBody(); err != nil {
			done(nil)
			return nil, err
		}
		timeout := p.tryTimeout
		if left := time.Until(deadline); left < timeout {
			timeout = left
		}
		st := &tryState{}
		tryCtx, cancel := context.WithTimeout(context.WithValue(parent, tryStateKey{}, st), timeout)
		tryCtx = httptrace.WithClientTrace(tryCtx, st.trace())
		resp, err = req.Clone(tryCtx).Next()
		timedOut := errors.Is(tryCtx.Err(), context.DeadlineExceeded)
		cancel() // the body download policy has read the body already
		v := p.classify(op, parent, timedOut, st, resp, err)
		switch {
		case v.skip:
			done(errExcluded)
		case v.sick:
			done(errSick)
		default:
			done(nil)
		}
		if v.err != nil {
			err = v.err
		}
		if !v.retry || try >= p.opts.MaxTries {
			return resp, err
		}
		delay := p.opts.backoff(try)
		if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), p.now()); ok {
				delay = ra
			}
		}
		if time.Now().Add(delay).After(deadline) {
			p.log.Debug("signalr: retry budget exhausted", "op", op.name, "try", try, "delay", delay)
			return resp, err
		}
		p.log.Debug("signalr: retrying", "op", op.name, "try", try, "delay", delay, "status", status(resp), "error", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-parent.Done():
			t.Stop()
			return resp, err
		}
	}
}

func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// classify decides whether a try may be retried and whether it counts
// against the endpoint's health.
func (p *retryPolicy) classify(op opInfo, parent context.Context, timedOut bool, st *tryState, resp *http.Response, err error) verdict {
	if err == nil {
		switch s := resp.StatusCode; {
		case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests:
			return verdict{retry: true}
		case s == http.StatusServiceUnavailable:
			return verdict{retry: true, sick: true}
		case s == http.StatusInternalServerError || s == http.StatusBadGateway || s == http.StatusGatewayTimeout:
			return verdict{retry: !op.send, sick: true}
		case s >= 500:
			return verdict{sick: true}
		}
		return verdict{}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	ce := &ConnectionError{Operation: op.name, Endpoint: p.endpoint, Written: st.wrote, Err: err}
	var circuit *CircuitOpenError
	switch {
	case errors.As(err, &circuit):
		return verdict{skip: true, err: err}
	case parent.Err() != nil:
		ce.Code = CodeServiceError
		if isTimeout(parent.Err()) {
			ce.Code = CodeTimeout
		}
		ce.Err = errors.Join(parent.Err(), err)
		return verdict{skip: true, err: ce}
	case !st.reachedNetwork:
		// The bearer token policy failed: Entra ID, not the endpoint.
		ce.Code = CodeUnauthorized
		return verdict{skip: true, err: ce}
	case st.tlsErr != nil:
		ce.Code = CodeTLS
		return verdict{sick: true, err: ce}
	}
	switch {
	case timedOut || isTimeout(err):
		ce.Code = CodeTimeout
	case st.dialErr != nil:
		ce.Code = CodeUnreachable
	case !st.wrote:
		ce.Code = CodeUnreachable
	default:
		ce.Code = CodeServiceError
	}
	return verdict{retry: !st.wrote || !op.send, sick: true, err: ce}
}

// retryAfter parses a Retry-After value: delta seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<31 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}
