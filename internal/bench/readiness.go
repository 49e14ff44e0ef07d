package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// readinessTarget is the goal for exec → first negotiate 200.
const readinessTarget = 10 * time.Millisecond

// readinessPoll is the pause between connection attempts while a process
// starts; it bounds the measurement's resolution.
const readinessPoll = 200 * time.Microsecond

// readinessReport is the start-up time of the handler and the baseline.
type readinessReport struct {
	Starts   int            `json:"starts"`
	Handler  latencySummary `json:"handler"`
	Baseline latencySummary `json:"baseline"`
	Ratio    float64        `json:"ratio_median"`
	Pass     bool           `json:"pass"`
}

// benchReadiness starts each binary cfg.starts times (alternating) and
// times exec until the first 200 on POST /api/negotiate. Each process is
// killed after its first answer.
func benchReadiness(ctx context.Context, cfg config, st *stack) (*readinessReport, error) {
	var h, b []time.Duration
	for i := 0; i < cfg.starts && ctx.Err() == nil; i++ {
		d, err := timeStart(ctx, "handler", st.handlerPath, nil, st.handlerEnv)
		if err != nil {
			return nil, err
		}
		h = append(h, d)
		d, err = timeStart(ctx, "baseline server", st.self, []string{"baseline-server"}, func(port int) []string {
			return baseEnv("FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port))
		})
		if err != nil {
			return nil, err
		}
		b = append(b, d)
	}
	r := &readinessReport{Starts: len(h), Handler: summarize(h), Baseline: summarize(b)}
	if r.Baseline.P50 > 0 {
		r.Ratio = float64(r.Handler.P50) / float64(r.Baseline.P50)
	}
	r.Pass = r.Handler.P50 <= readinessTarget
	return r, ctx.Err()
}

// timeStart execs path and polls POST /api/negotiate on its port without
// keep-alive until the first 200 (5 s at most).
func timeStart(ctx context.Context, name, path string, args []string, env func(port int) []string) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/negotiate?negotiateVersion=1"
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	t0 := time.Now()
	p, err := startProc(name, path, args, env(port))
	if err != nil {
		return 0, err
	}
	defer p.kill()
	deadline := t0.Add(5 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, "POST", url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(t0), nil
			}
			return 0, fmt.Errorf("%s answered %d on its first negotiate", name, resp.StatusCode)
		}
		if p.exited() {
			return 0, p.failure()
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s did not answer within 5 s; last output:\n%s", name, p.out.String())
		}
		time.Sleep(readinessPoll)
	}
}

func (r *readinessReport) print(w io.Writer) {
	fmt.Fprintf(w, "## 2. Readiness (exec → first 200 on POST /api/negotiate), %d starts each, alternated, polled every %s\n\n", r.Starts, readinessPoll)
	fmt.Fprintf(w, "  %-10s %10s %10s %10s\n", "binary", "median", "min", "max")
	fmt.Fprintf(w, "  %-10s %10s %10s %10s\n", "handler", ms(r.Handler.P50), ms(r.Handler.Min), ms(r.Handler.Max))
	fmt.Fprintf(w, "  %-10s %10s %10s %10s\n", "baseline", ms(r.Baseline.P50), ms(r.Baseline.Min), ms(r.Baseline.Max))
	fmt.Fprintf(w, "\n  handler median %s (target ≤ %s) %s;  handler/baseline median: %.2f\n\n",
		ms(r.Handler.P50), ms(readinessTarget), verdict(r.Pass), r.Ratio)
}
