package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// latencySummary condenses a set of latencies.
type latencySummary struct {
	N    int           `json:"n"`
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	Min  time.Duration `json:"min_ns"`
	Max  time.Duration `json:"max_ns"`
	Mean time.Duration `json:"mean_ns"`
}

// summarize sorts d in place and returns its percentiles (nearest rank).
func summarize(d []time.Duration) latencySummary {
	if len(d) == 0 {
		return latencySummary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return latencySummary{
		N:    len(d),
		P50:  percentile(d, 50),
		P99:  percentile(d, 99),
		Min:  d[0],
		Max:  d[len(d)-1],
		Mean: sum / time.Duration(len(d)),
	}
}

// percentile returns the nearest-rank p-th percentile of sorted d.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// ms formats d in milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return trimFloat(v, 3) + " ms"
	case v < 100:
		return trimFloat(v, 2) + " ms"
	default:
		return trimFloat(v, 0) + " ms"
	}
}

// pairedMedian returns the median over rounds 0…n-1 of ratio(i), a ratio
// of runs made in the same round (adjacent in time, so the machine's
// drift mostly cancels), and the per-round ratios. Rounds whose ratio is
// not positive (a run missing) are left out.
func pairedMedian(n int, ratio func(i int) float64) (float64, []float64) {
	var each []float64
	for i := range n {
		if r := ratio(i); r > 0 {
			each = append(each, r)
		}
	}
	if len(each) == 0 {
		return 0, nil
	}
	s := slices.Clone(each)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return m, each
}

// ratios formats per-round ratios as "0.81, 0.90, 0.70".
func ratios(each []float64) string {
	var b strings.Builder
	for i, r := range each {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.2f", r)
	}
	return b.String()
}
