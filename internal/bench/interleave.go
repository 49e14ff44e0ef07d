package main

import (
	"context"
	"slices"
	"time"
)

// interleaved is an unloaded run of several paths taken request by
// request: each round calls every path once, one call at a time, so that
// the calls of one round meet the same machine state. Run back to back in
// their own loops (alternate), the floor's two short ping-pongs keep their
// processes awake between calls while a hop through a third process
// waits longer and finds its threads asleep; interleaved, every path pays
// the same wake-ups, and the machine's drift over seconds cancels in each
// round.
type interleaved struct {
	Names []string
	// Lat holds, per path, the latency of every round in which all calls
	// succeeded; the same index is the same round.
	Lat        [][]time.Duration
	Errors     int
	FirstError string
}

// interleave runs rounds of targets until dur has passed (or ctx ends),
// the first path of each round rotating so that no path always follows
// the same one. A round with a failed call is dropped.
func interleave(ctx context.Context, targets []namedOp, dur time.Duration) interleaved {
	r := interleaved{Lat: make([][]time.Duration, len(targets))}
	for _, t := range targets {
		r.Names = append(r.Names, t.name)
	}
	cur := make([]time.Duration, len(targets))
	deadline := time.Now().Add(dur)
	for round := 0; ctx.Err() == nil && time.Now().Before(deadline) && round < maxSamplesPerWorker; round++ {
		ok := true
		for k := range targets {
			i := (k + round) % len(targets)
			t0 := time.Now()
			err := targets[i].do(ctx)
			cur[i] = time.Since(t0)
			if err != nil {
				if ctx.Err() != nil {
					return r // cut short: not a failure of the target
				}
				r.Errors++
				if r.FirstError == "" {
					r.FirstError = targets[i].name + ": " + err.Error()
				}
				ok = false
			}
		}
		if ok {
			for i, d := range cur {
				r.Lat[i] = append(r.Lat[i], d)
			}
		}
	}
	return r
}

// result returns path i's latencies as a run (no throughput), for
// floorRatio.
func (r interleaved) result(i int) loadResult {
	return loadResult{Latency: summarize(slices.Clone(r.Lat[i]))}
}

// pairedFloor returns the median over rounds of path h's latency over the
// sum of paths a's and b's in the same round (0 when there is no round).
func (r interleaved) pairedFloor(h, a, b int) float64 {
	m, _ := pairedMedian(len(r.Lat[h]), func(i int) float64 {
		return float64(r.Lat[h][i]) / float64(r.Lat[a][i]+r.Lat[b][i])
	})
	return m
}
