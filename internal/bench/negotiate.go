package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// negotiateTarget is the throughput goal: handler req/s ≥ 0.85 × baseline.
const negotiateTarget = 0.85

// negotiateReport compares the handler's negotiate with the baseline.
type negotiateReport struct {
	Concurrency int          `json:"concurrency"`
	DurationS   float64      `json:"duration_s"`
	Handler     []loadResult `json:"handler_runs"`
	Baseline    []loadResult `json:"baseline_runs"`
	// Ratio is best handler req/s over best baseline req/s.
	Ratio float64 `json:"ratio_rps"`
	// LatencyRatio is handler p50 over baseline p50 (of the same best runs).
	LatencyRatio float64 `json:"ratio_p50"`
	Pass         bool    `json:"pass"`
}

// benchNegotiate loads POST /api/negotiate?negotiateVersion=1 (empty body,
// as @microsoft/signalr sends it) on the handler and on the baseline server
// with the same closed-loop generator, alternating.
func benchNegotiate(ctx context.Context, cfg config, st *stack, progress func(string)) (*negotiateReport, error) {
	path := "/api/negotiate?negotiateVersion=1"
	hc := &http.Client{Transport: newLoadTransport(cfg.negConc)}
	bc := &http.Client{Transport: newLoadTransport(cfg.negConc)}
	defer hc.CloseIdleConnections()
	defer bc.CloseIdleConnections()

	// Check once that the handler answers a real negotiate, so a broken
	// handler is not measured as a fast one.
	if err := checkNegotiate(ctx, hc, st.hBase()+path); err != nil {
		return nil, err
	}
	runs := alternate(ctx, []namedOp{
		{"handler", httpOp(hc, "POST", st.hBase()+path, "", nil, http.StatusOK)},
		{"baseline", httpOp(bc, "POST", st.blBase()+path, "", nil, http.StatusOK)},
	}, cfg.negRounds, cfg.negConc, cfg.negDur, cfg.warm, progress)
	r := &negotiateReport{Concurrency: cfg.negConc, DurationS: cfg.negDur.Seconds(), Handler: runs[0], Baseline: runs[1]}
	h, b := best(r.Handler), best(r.Baseline)
	if b.RPS > 0 {
		r.Ratio = h.RPS / b.RPS
	}
	if b.Latency.P50 > 0 {
		r.LatencyRatio = float64(h.Latency.P50) / float64(b.Latency.P50)
	}
	r.Pass = r.Ratio >= negotiateTarget
	for _, x := range append(append([]loadResult{}, r.Handler...), r.Baseline...) {
		if x.Errors > 0 {
			return r, fmt.Errorf("%s: %d failed requests (first: %s)", x.Name, x.Errors, x.FirstError)
		}
	}
	return r, nil
}

// checkNegotiate requires a 200 JSON answer with url and accessToken.
func checkNegotiate(ctx context.Context, c *http.Client, url string) error {
	_, err := negotiate(ctx, c, url)
	return err
}

func (r *negotiateReport) print(w io.Writer) {
	fmt.Fprintf(w, "## 1. Negotiate throughput (POST /api/negotiate?negotiateVersion=1, empty body)\n")
	fmt.Fprintf(w, "closed loop, %d keep-alive workers, %.0f s per run, runs alternated handler/baseline, best run of each counted\n", r.Concurrency, r.DurationS)
	fmt.Fprintf(w, "baseline: bare net/http process returning a fixed negotiate JSON (200-char token)\n\n")
	fmt.Fprintf(w, "  %-10s %-5s %10s %10s %10s %10s\n", "target", "run", "req/s", "p50", "p99", "max")
	rows := func(name string, runs []loadResult) {
		for i, x := range runs {
			fmt.Fprintf(w, "  %-10s %-5d %10.0f %10s %10s %10s\n", name, i+1, x.RPS, ms(x.Latency.P50), ms(x.Latency.P99), ms(x.Latency.Max))
		}
	}
	rows("handler", r.Handler)
	rows("baseline", r.Baseline)
	fmt.Fprintf(w, "\n  handler/baseline throughput: %.2f (target ≥ %.2f) %s;  p50 latency ratio: %.2f\n\n",
		r.Ratio, negotiateTarget, verdict(r.Pass), r.LatencyRatio)
}
