package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxSamplesPerWorker bounds the memory and the count of one load run.
const maxSamplesPerWorker = 1 << 20

// loadResult is one closed-loop load run against one target.
type loadResult struct {
	Name       string         `json:"name"`
	OK         int            `json:"ok"`
	Errors     int            `json:"errors"`
	FirstError string         `json:"first_error,omitempty"`
	Elapsed    time.Duration  `json:"elapsed_ns"`
	RPS        float64        `json:"rps"`
	Latency    latencySummary `json:"latency"`
}

// op is one request of a load run; it returns nil when the answer was the
// expected one.
type op func(ctx context.Context) error

// runLoad runs conc workers that each call do back to back until dur has
// passed (or ctx ends, or maxSamplesPerWorker calls), recording the latency
// of every successful call. It is a closed loop: a slower target gets fewer
// requests, never a queue.
func runLoad(ctx context.Context, name string, do op, conc int, dur time.Duration) loadResult {
	ctx, cancel := context.WithTimeout(ctx, dur+30*time.Second) // a stuck call cannot hold the run
	defer cancel()
	type worker struct {
		lat   []time.Duration
		errs  int
		first error
	}
	ws := make([]worker, conc)
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for i := range ws {
		w := &ws[i]
		w.lat = make([]time.Duration, 0, 4096)
		wg.Go(func() {
			for n := 0; n < maxSamplesPerWorker && ctx.Err() == nil; n++ {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				err := do(ctx)
				if err != nil && ctx.Err() != nil {
					return // cut short: not a failure of the target
				}
				if err != nil {
					w.errs++
					if w.first == nil {
						w.first = err
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := loadResult{Name: name, Elapsed: elapsed}
	var all []time.Duration
	for i := range ws {
		all = append(all, ws[i].lat...)
		res.Errors += ws[i].errs
		if res.FirstError == "" && ws[i].first != nil {
			res.FirstError = ws[i].first.Error()
		}
	}
	res.OK = len(all)
	res.RPS = float64(res.OK) / elapsed.Seconds()
	res.Latency = summarize(all)
	return res
}

// newLoadTransport is a keep-alive transport with an idle pool large enough
// for conc workers, dialing loopback only.
func newLoadTransport(conc int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conc * 2,
		MaxIdleConnsPerHost: conc * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// httpOp returns an op that sends method url with header and body and
// expects status (send); the response body is read to the end so the
// connection is reused.
func httpOp(client *http.Client, method, url string, header http.Header, body []byte, status int) op {
	return func(ctx context.Context) error { return send(ctx, client, method, url, header, body, status) }
}

// send makes one request with header (shared, read only) and body (nil
// for none), reads the answer and requires status.
func send(ctx context.Context, client *http.Client, method, url string, header http.Header, body []byte, status int) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: status %d, want %d", method, url, resp.StatusCode, status)
	}
	return err
}

// jsonHeader is the header of the benchmark's JSON bodies.
var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// alternate runs every target rounds times in turn (A B A B …), each run
// preceded by a discarded warm-up, and returns the runs per target in
// order. Alternating spreads the noise of a shared 2-core machine over all
// targets instead of letting one target take a quiet or a noisy minute.
// With rotate, the first target of each round rotates (A B C, B C A, …)
// so that no target always follows the same one.
func alternate(ctx context.Context, targets []namedOp, rounds, conc int, dur, warm time.Duration, rotate bool, progress func(string)) [][]loadResult {
	out := make([][]loadResult, len(targets))
	for r := 0; r < rounds && ctx.Err() == nil; r++ {
		for k := range targets {
			if ctx.Err() != nil {
				break
			}
			i := k
			if rotate {
				i = (k + r) % len(targets)
			}
			t := targets[i]
			progress(fmt.Sprintf("%s, round %d/%d", t.name, r+1, rounds))
			runLoad(ctx, t.name+" warm-up", t.do, conc, warm)
			out[i] = append(out[i], runLoad(ctx, t.name, t.do, conc, dur))
		}
	}
	return out
}

// namedOp is a load target.
type namedOp struct {
	name string
	do   op
}

// best returns the run with the highest throughput.
func best(runs []loadResult) loadResult {
	var b loadResult
	for _, r := range runs {
		if r.RPS > b.RPS {
			b = r
		}
	}
	if b.Name == "" && len(runs) > 0 {
		b = runs[0]
	}
	return b
}
