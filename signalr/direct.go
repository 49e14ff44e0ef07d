package signalr

import (
	"bytes"
	"context"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// The direct path. An AccessKey client without policies of the caller's
// (see [ClientOptions]) sends its requests straight over its transport:
// azcore's pipeline would add, per call, a retry policy, a log policy, a
// header policy, a trace policy, a body download policy and an include
// response policy, about 60 allocations and a third of a loopback call's
// time (BenchmarkSendToAll), for nothing such a client uses. The tries follow the
// same rule as the pipeline's: both call retryFor and try (breaker,
// httptrace, classify); what azcore's retry policy does between the tries
// is redone here (see doDirect).

// doDirect runs st's call on the direct path: st.base is the request with
// its headers but no body or context yet. The loop does what azcore's
// retry policy does for the pipeline (runtime/policy_retry.go of azcore
// v1.24): at most Retry.MaxRetries retries (none when negative), each try
// bounded by Retry.TryTimeout, a delay before each retry from the answer's
// retry-after-ms, x-ms-retry-after-ms or Retry-After header (seconds or an
// HTTP date), else exponential with jitter (backoff), and no retry when
// that header asks for longer than Retry.MaxRetryDelay. Around it, as
// callPolicy does for the pipeline, the retry budget bounds the call and,
// when it or the caller's context ends the retries, the last try's typed
// result is returned; unlike azcore, a delay that would end after the
// budget returns that result at once rather than after waiting out the
// budget.
func (c *Client) doDirect(st *callState) (*http.Response, error) {
	r, budget := c.retryFor(st.op)
	maxRetries := int(max(r.MaxRetries, 0))
	maxDelay := r.MaxRetryDelay
	if maxDelay < 0 {
		maxDelay = math.MaxInt64 // azcore: no cap
	}
	end := time.Now().Add(budget)
	for try := 1; ; try++ {
		deadline := time.Now().Add(r.TryTimeout)
		if end.Before(deadline) {
			deadline = end
		}
		ctx, cancel := context.WithDeadline(st.caller, deadline)
		resp, retry, err := c.try(ctx, st, nil)
		cancel() // the answer's body is already in memory
		switch {
		case st.caller.Err() != nil || !time.Now().Before(end):
			return resp, err // the caller or the budget ended the call
		case err != nil && !retry,
			err == nil && !slices.Contains(r.StatusCodes, resp.StatusCode),
			try > maxRetries:
			return resp, err
		}
		delay := retryAfter(resp)
		if delay <= 0 {
			delay = backoff(r.RetryDelay, maxDelay, try)
		} else if delay > maxDelay {
			return resp, err
		}
		// The retried answer needs no draining: sendDirect read it whole and
		// closed its body.
		if !time.Now().Add(delay).Before(end) || !sleep(st.caller, delay) {
			return resp, err
		}
	}
}

// sendDirect is the transport step of one try on the direct path: a
// shallow copy of st.base with the try's context and a fresh reader of the
// body (so a retry resends it from the start), sent over the client's
// transport. The answer's body is read whole into memory (bounded by
// maxResponseBody), as azcore's body download policy does, and left
// readable by runtime.Payload and runtime.UnmarshalAsJSON after the try's
// context has ended.
func (c *Client) sendDirect(ctx context.Context, st *callState, ts *tryState) (*http.Response, error) {
	req := st.base.WithContext(ctx)
	if st.body != nil {
		req.Body, _ = st.getBody()
		req.GetBody = st.getBody
		req.ContentLength = int64(len(st.body))
	}
	ts.mu.Lock()
	ts.reachedNetwork = true // authorized before the first try (doDirect)
	ts.mu.Unlock()
	resp, err := c.transport.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.Body != http.NoBody {
		if _, err := runtime.Payload(resp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// bodyOf returns the GetBody function of a request sending b: a body
// net/http writes together with the headers when oneWrite (the
// transport's connections count their bytes, wire.go), else a
// requestBody.
func bodyOf(b []byte, oneWrite bool) func() (io.ReadCloser, error) {
	if oneWrite {
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return func() (io.ReadCloser, error) {
		r := &requestBody{}
		r.r.Reset(b)
		return r, nil
	}
}

// requestBody is a request body over a byte slice, of a type net/http does
// not know to be in memory, for transports whose connections do not count
// their bytes (wire.go). The retry rule depends on that: for an
// io.NopCloser over a *bytes.Reader, net/http would buffer the whole
// request and report it written (httptrace's WroteRequest) before flushing
// it to the connection, so a send whose first write failed would count as
// maybe delivered and not be retried. For this body it flushes the headers
// first and writes the body straight to the connection, and WroteRequest
// means the whole request left, as on the pipeline path (whose azcore body
// wrapper is no known in-memory reader either). See isKnownInMemoryReader
// in net/http's transfer.go.
type requestBody struct{ r bytes.Reader }

func (b *requestBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (*requestBody) Close() error                 { return nil }

// retryAfter returns the delay an answer asks for before the next try, or
// 0: the retry-after-ms, x-ms-retry-after-ms (milliseconds) or Retry-After
// (seconds, or an HTTP date) header, the first that holds a positive
// delay, in azcore's order of preference.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	for _, h := range [...]string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if n, err := strconv.Atoi(resp.Header.Get(h)); err == nil && n > 0 {
			return time.Duration(n) * time.Millisecond
		}
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// backoff returns the delay before retry number try (from 1): (2^try − 1)
// times base, with a jitter of 0.8–1.3×, at most maxDelay; azcore's
// formula. A negative base counts as 0.
func backoff(base, maxDelay time.Duration, try int) time.Duration {
	d := (math.Exp2(float64(try)) - 1) * float64(max(base, 0)) // float: no overflow
	d *= 0.8 + rand.Float64()/2
	if d >= float64(maxDelay) {
		return maxDelay
	}
	return time.Duration(d)
}

// sleep waits for d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// usesPipeline reports whether a client needs azcore's pipeline: for
// Microsoft Entra ID (its bearer token policy), for the caller's own
// policies, and for azcore logging options, which only its log policy
// honours.
func usesPipeline(entra bool, o *policy.ClientOptions) bool {
	return entra || len(o.PerCallPolicies) > 0 || len(o.PerRetryPolicies) > 0 ||
		o.Logging.IncludeBody || len(o.Logging.AllowedHeaders) > 0 || len(o.Logging.AllowedQueryParams) > 0
}
