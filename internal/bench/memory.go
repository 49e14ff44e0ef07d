package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
)

// memoryBody is the size of each broadcast body of the memory section: the
// handler's largest accepted body.
const memoryBody = 8 << 20

// memoryBudget is the handler's default HANDLER_MAX_BODY_MEMORY_MB, in bytes.
const memoryBudget = 32 << 20

// memoryReport is section 6: the handler's resident memory with large
// broadcasts in flight, per in-flight request, against the body size.
type memoryReport struct {
	BodyBytes int         `json:"body_bytes"`
	Runs      []memoryRun `json:"runs"`
}

type memoryRun struct {
	Concurrent int `json:"concurrent"`
	// InFlight is how many bodies the handler holds at once: Concurrent,
	// bounded by the body budget.
	InFlight   int     `json:"in_flight"`
	IdleRSS    int64   `json:"idle_rss_bytes"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	PerRequest float64 `json:"per_request_bytes"`
	// BodyMultiple is PerRequest over the body size (the baseline): about
	// 1 means the handler holds one copy of each body in flight.
	BodyMultiple float64 `json:"body_multiple"`
	Seconds      float64 `json:"seconds"`
	Failed       int     `json:"failed"`
}

// benchMemory starts a fresh handler per run (VmHWM only grows), measures
// its idle RSS, sends n concurrent 8 MiB broadcasts (messages of ~900 kB
// to the emulator, no listener) and reads the peak RSS.
func benchMemory(ctx context.Context, cfg config, st *stack, progress func(string)) (*memoryReport, error) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		return nil, fmt.Errorf("needs /proc (Linux)")
	}
	body := testutil.LargeBroadcast(memoryBody)
	rep := &memoryReport{BodyBytes: len(body)}
	for _, n := range []int{1, 4, 48} {
		progress(fmt.Sprintf("memory: %d concurrent %d MiB broadcasts", n, memoryBody>>20))
		r, err := memoryRunOnce(ctx, st, body, n)
		if err != nil {
			return rep, err
		}
		rep.Runs = append(rep.Runs, r)
	}
	return rep, nil
}

func memoryRunOnce(ctx context.Context, st *stack, body []byte, n int) (memoryRun, error) {
	r := memoryRun{Concurrent: n, InFlight: min(n, memoryBudget/memoryBody)}
	p, base, err := startServer(ctx, "handler (memory)", st.handlerPath, nil,
		func(port int) []string { return append(st.handlerEnv(port), "HANDLER_READ_TIMEOUT=5m") })
	if err != nil {
		return r, err
	}
	defer p.stop()
	if r.IdleRSS, err = procStatus(p.cmd.Process.Pid, "VmRSS:"); err != nil {
		return r, err
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	var wg sync.WaitGroup
	var mu sync.Mutex
	t0 := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/broadcast", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			ok := err == nil && resp.StatusCode == http.StatusAccepted
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if !ok {
				mu.Lock()
				r.Failed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.Seconds = time.Since(t0).Seconds()
	if r.PeakRSS, err = procStatus(p.cmd.Process.Pid, "VmHWM:"); err != nil {
		return r, err
	}
	r.PerRequest = float64(r.PeakRSS-r.IdleRSS) / float64(r.InFlight)
	r.BodyMultiple = r.PerRequest / float64(len(body))
	return r, ctx.Err()
}

// procStatus reads one "Key: N kB" line of /proc/<pid>/status, in bytes.
func procStatus(pid int, key string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

func (r *memoryReport) failures() []string {
	var out []string
	for _, x := range r.Runs {
		if x.Failed > 0 {
			out = append(out, fmt.Sprintf("memory: %d of %d broadcasts failed", x.Failed, x.Concurrent))
		}
	}
	return out
}

func (r *memoryReport) print(w io.Writer) {
	fmt.Fprintf(w, "## 6. Memory with large broadcasts in flight (%.1f MiB bodies, fresh handler per run, default body budget %d MiB)\n", float64(r.BodyBytes)/(1<<20), memoryBudget>>20)
	fmt.Fprintf(w, "  per request = (peak RSS − idle RSS) / bodies held at once; baseline = the body size (1.0× = one copy)\n")
	fmt.Fprintf(w, "  %-10s %-9s %10s %10s %12s %8s %8s %7s\n", "concurrent", "in flight", "idle RSS", "peak RSS", "per request", "× body", "seconds", "failed")
	for _, x := range r.Runs {
		fmt.Fprintf(w, "  %-10d %-9d %8.1fMB %8.1fMB %10.1fMB %7.2f× %8.1f %7d\n", x.Concurrent, x.InFlight,
			float64(x.IdleRSS)/1e6, float64(x.PeakRSS)/1e6, x.PerRequest/1e6, x.BodyMultiple, x.Seconds, x.Failed)
	}
	fmt.Fprintln(w)
}
