package signalr

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

func TestBackoff(t *testing.T) {
	const base = 100 * time.Millisecond
	for try := 1; try <= 5; try++ {
		exp := float64(int64(1)<<try-1) * float64(base)
		lo, hi := time.Duration(0.8*exp), time.Duration(1.3*exp)
		for range 200 {
			if d := backoff(base, time.Hour, try); d < lo || d >= hi {
				t.Fatalf("try %d: %v, want in [%v, %v)", try, d, lo, hi)
			}
		}
	}
	if d := backoff(base, 250*time.Millisecond, 4); d != 250*time.Millisecond {
		t.Errorf("capped: %v, want MaxRetryDelay 250ms", d)
	}
	if d := backoff(time.Hour, math.MaxInt64, 70); d != math.MaxInt64 {
		t.Errorf("overflow: %v, want the cap", d)
	}
	if d := backoff(-time.Second, time.Hour, 3); d != 0 {
		t.Errorf("negative RetryDelay: %v, want 0", d)
	}
}

func TestRetryAfterHeaders(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		h        http.Header
		min, max time.Duration
	}{
		{http.Header{}, 0, 0},
		{http.Header{"Retry-After": {"3"}}, 3 * time.Second, 3 * time.Second},
		{http.Header{"Retry-After": {"0"}}, 0, 0},
		{http.Header{"Retry-After": {"-4"}}, 0, 0},
		{http.Header{"Retry-After": {"soon"}}, 0, 0},
		{http.Header{"Retry-After": {date}}, 88 * time.Second, 90 * time.Second},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"3"}}, 250 * time.Millisecond, 250 * time.Millisecond},
		{http.Header{"X-Ms-Retry-After-Ms": {"40"}, "Retry-After": {"3"}}, 40 * time.Millisecond, 40 * time.Millisecond},
		{http.Header{"Retry-After-Ms": {"x"}, "X-Ms-Retry-After-Ms": {"7"}}, 7 * time.Millisecond, 7 * time.Millisecond},
		{http.Header{"Retry-After-Ms": {"0"}, "Retry-After": {"2"}}, 2 * time.Second, 2 * time.Second},
	} {
		d := retryAfter(&http.Response{Header: tc.h})
		if d < tc.min || d > tc.max {
			t.Errorf("%v: %v, want in [%v, %v]", tc.h, d, tc.min, tc.max)
		}
	}
	if d := retryAfter(nil); d != 0 {
		t.Errorf("no answer: %v", d)
	}
}

// FuzzRetryAfter: any header value is read without panicking, and a
// positive decimal count is taken in the header's unit.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "120", "0", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "", " 5", "9999999999999999999"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, seconds, ms string) {
		d := retryAfter(&http.Response{Header: http.Header{"Retry-After": {seconds}}})
		if n, err := strconv.Atoi(seconds); err == nil && n > 0 && n < 1e6 && d != time.Duration(n)*time.Second {
			t.Fatalf("Retry-After %q: %v", seconds, d)
		}
		d = retryAfter(&http.Response{Header: http.Header{"Retry-After-Ms": {ms}, "Retry-After": {seconds}}})
		if n, err := strconv.Atoi(ms); err == nil && n > 0 && n < 1e9 && d != time.Duration(n)*time.Millisecond {
			t.Fatalf("Retry-After-Ms %q: %v", ms, d)
		}
	})
}

// acceptAll is a transport that answers every request 202 without a body
// or a network, so that a call's allocations are the client's own.
type acceptAll struct{}

func (acceptAll) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusAccepted, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

type nopPolicy struct{}

func (nopPolicy) Do(req *policy.Request) (*http.Response, error) { return req.Next() }

// TestDirectPathAllocations: an AccessKey client takes the direct path,
// which costs at most half the allocations per call of the same client on
// azcore's pipeline (a guard for the path selection and the direct path's
// own cost, not a timing).
func TestDirectPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	allocs := func(pipeline bool) float64 {
		o := &ClientOptions{Logger: slog.New(slog.DiscardHandler)}
		o.Transport = acceptAll{}
		if pipeline {
			o.PerRetryPolicies = []policy.Policy{nopPolicy{}}
		}
		c, err := NewClientFromConnectionString("Endpoint=http://127.0.0.1;Port=1;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;", o)
		if err != nil {
			t.Fatal(err)
		}
		if c.direct == pipeline {
			t.Fatalf("pipeline %v: direct = %v", pipeline, c.direct)
		}
		msg := Message{Target: "hello", Arguments: []byte(`[1]`)}
		ctx := t.Context()
		return testing.AllocsPerRun(200, func() {
			if _, err := c.SendToAll(ctx, "chat", msg, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	direct, pipeline := allocs(false), allocs(true)
	t.Logf("SendToAll allocations: direct %.0f, pipeline %.0f", direct, pipeline)
	if direct > pipeline/2 {
		t.Errorf("direct path: %.0f allocations per call, want at most half the pipeline's %.0f", direct, pipeline)
	}
}
