package signalr_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// viaPipeline makes the AccessKey clients of newTestClient and memClient
// use azcore's pipeline (onPath) instead of the direct path. Only
// onBothPaths sets it; no test in the package runs in parallel.
var viaPipeline bool

// onBothPaths runs f twice, as subtests "direct" (the default request path
// of an AccessKey client) and "pipeline" (azcore's, which a no-op
// PerRetryPolicy selects), so that every assertion of f holds for both.
func onBothPaths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, pipeline := range []bool{false, true} {
		name := "direct"
		if pipeline {
			name = "pipeline"
		}
		t.Run(name, func(t *testing.T) {
			viaPipeline = pipeline
			t.Cleanup(func() { viaPipeline = false })
			f(t)
		})
	}
}

// onPath returns o as the test's request path wants it: o itself on the
// direct path, a copy with a no-op PerRetryPolicy added on the pipeline.
func onPath(o *signalr.ClientOptions) *signalr.ClientOptions {
	if !viaPipeline {
		return o
	}
	c := *o
	c.PerRetryPolicies = append(slices.Clip(c.PerRetryPolicies), nopPolicy{})
	return &c
}

// nopPolicy is a per-retry policy that does nothing; supplying it selects
// the azcore pipeline.
type nopPolicy struct{}

func (nopPolicy) Do(req *policy.Request) (*http.Response, error) { return req.Next() }

// countingPolicy counts the requests it sees.
type countingPolicy struct{ n atomic.Int32 }

func (p *countingPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.n.Add(1)
	return req.Next()
}

// probeHeader is set with policy.WithHTTPHeader: azcore's header policy
// adds it to the request, so it reaches the service only through the
// pipeline.
const probeHeader = "X-Pipeline-Probe"

// sendProbed sends to all with probeHeader in the context and reports
// whether the service received it with the last try (that is, whether
// azcore's pipeline carried the request).
func sendProbed(t *testing.T, c *signalr.Client, rec *recorder) bool {
	t.Helper()
	ctx := policy.WithHTTPHeader(t.Context(), http.Header{probeHeader: {"1"}})
	before := len(rec.requests())
	if _, err := c.SendToAll(ctx, "chat", hello, nil); err != nil {
		t.Fatal(err)
	}
	n := len(rec.requests())
	if n == before {
		t.Fatal("the service saw no request")
	}
	return rec.header(n-1, probeHeader) == "1"
}

func TestRequestPathSelection(t *testing.T) {
	rec := newRecorder(t, statusSequence(202))
	t.Run("AccessKey, no policies: direct", func(t *testing.T) {
		if sendProbed(t, newTestClient(t, rec.srv.URL, nil), rec) {
			t.Error("the request went through azcore's header policy; want the direct path")
		}
	})
	// A per-call policy runs once per call, a per-retry policy once per try.
	for _, tc := range []struct {
		name  string
		set   func(*signalr.ClientOptions, policy.Policy)
		codes []int
		runs  int32
	}{
		{"PerCallPolicies: pipeline", func(o *signalr.ClientOptions, p policy.Policy) { o.PerCallPolicies = []policy.Policy{p} }, []int{503, 202}, 1},
		{"PerRetryPolicies: pipeline", func(o *signalr.ClientOptions, p policy.Policy) { o.PerRetryPolicies = []policy.Policy{p} }, []int{503, 202}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, statusSequence(tc.codes...))
			p := &countingPolicy{}
			o := quietOptions()
			tc.set(o, p)
			if !sendProbed(t, newTestClient(t, rec.srv.URL, o), rec) {
				t.Error("the request skipped azcore's pipeline")
			}
			if n := p.n.Load(); n != tc.runs {
				t.Errorf("the policy ran %d times for a 503 and its retry, want %d", n, tc.runs)
			}
		})
	}
	t.Run("Logging options: pipeline", func(t *testing.T) {
		o := quietOptions()
		o.Logging.AllowedHeaders = []string{probeHeader}
		if !sendProbed(t, newTestClient(t, rec.srv.URL, o), rec) {
			t.Error("the request skipped azcore's pipeline (its log policy honours Logging)")
		}
	})
	t.Run("Entra ID: pipeline", func(t *testing.T) {
		if !sendProbed(t, entraClient(t, rec.srv.URL, newCred(), testutil.NewClock(fixedNow)), rec) {
			t.Error("an Entra ID request skipped azcore's pipeline (its bearer token policy)")
		}
	})
}

func TestRetryMaxRetriesNegative(t *testing.T) { onBothPaths(t, testRetryMaxRetriesNegative) }

func testRetryMaxRetriesNegative(t *testing.T) {
	rec := newRecorder(t, statusSequence(503, 202))
	o := quietOptions()
	o.Retry.MaxRetries = -1 // azcore: no retries
	if err := sendToAll(newTestClient(t, rec.srv.URL, o)); outcome(err) != "status 503" {
		t.Fatalf("err = %v, want the 503 of the only try", err)
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("server saw %d tries, want 1", n)
	}
}

// TestRetriedAnswerBodyKept: when the retries end on a retriable status,
// the error carries the last answer's message (its body was read whole
// and stays readable).
func TestRetriedAnswerBodyKept(t *testing.T) { onBothPaths(t, testRetriedAnswerBodyKept) }

func testRetriedAnswerBodyKept(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		fmt.Fprintf(w, `{"code":"Busy","message":"try %d"}`, n)
	})
	err := sendToAll(newTestClient(t, rec.srv.URL, nil))
	var re *signalr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 503 || re.Message != "try 2" {
		t.Fatalf("err = %v, want the third try's 503 with its message", err)
	}
}
