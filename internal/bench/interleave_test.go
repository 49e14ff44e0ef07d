package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestInterleaveRotatesAndDropsFailedRounds runs three paths of fixed
// latencies (a fake clock): each round calls each path once, the first
// path rotating, a round with a failed call is left out of every path,
// and the ratios come from the kept rounds.
func TestInterleaveRotatesAndDropsFailedRounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var order []int
		calls := map[int]int{}
		path := func(i int, d time.Duration) namedOp {
			return namedOp{name: fmt.Sprint("p", i), do: func(context.Context) error {
				order = append(order, i)
				calls[i]++
				time.Sleep(d)
				if i == 1 && calls[i] == 2 {
					return errors.New("boom")
				}
				return nil
			}}
		}
		// 600 µs a round: rounds start at 0, 0.6, …, 5.4 ms.
		il := interleave(context.Background(), []namedOp{
			path(0, 100*time.Microsecond), path(1, 200*time.Microsecond), path(2, 300*time.Microsecond),
		}, 6*time.Millisecond)
		if want := []int{0, 1, 2, 1, 2, 0, 2, 0, 1}; !slices.Equal(order[:9], want) {
			t.Fatalf("order of the first rounds %v, want %v", order[:9], want)
		}
		if len(order) != 30 {
			t.Fatalf("%d calls, want 10 rounds of 3", len(order))
		}
		if il.Errors != 1 || il.FirstError != "p1: boom" {
			t.Fatalf("errors %d %q", il.Errors, il.FirstError)
		}
		for i, l := range il.Lat {
			if len(l) != 9 {
				t.Fatalf("path %d kept %d rounds, want 9 (the failed round dropped)", i, len(l))
			}
		}
		ratio, floor := floorRatio(il.result(2), il.result(0), il.result(1))
		paired := il.pairedFloor(2, 0, 1)
		if floor != 300*time.Microsecond || math.Abs(ratio-1) > 1e-9 || math.Abs(paired-1) > 1e-9 {
			t.Fatalf("ratio %v floor %v paired %v", ratio, floor, paired)
		}
	})
}

// TestInterleaveStopsWithItsContext: a call cut short by the context ends
// the run without counting as a failure.
func TestInterleaveStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	il := interleave(ctx, []namedOp{{"a", func(ctx context.Context) error {
		if n++; n == 3 {
			cancel()
			return ctx.Err()
		}
		return nil
	}}}, time.Hour)
	if il.Errors != 0 || len(il.Lat[0]) != 2 {
		t.Fatalf("errors %d, rounds %d; want 0 and 2", il.Errors, len(il.Lat[0]))
	}
}

// TestScoreInterleavedPairsRounds: the paired ratio is taken within each
// round, so a round in which every path ran twice as slowly counts the
// same as the others, and the verdict follows the p50 ratio.
func TestScoreInterleavedPairsRounds(t *testing.T) {
	us := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Microsecond)
		}
		return d
	}
	il := interleaved{Lat: [][]time.Duration{
		us(100, 200, 100), // ping
		us(200, 400, 200), // direct raw
		us(330, 660, 360), // handler: 1.1, 1.1, 1.2 the round's floor
		us(300, 600, 300), // minimal hop: 1.0
		us(250, 500, 250), // direct SDK
	}}
	r := scoreInterleaved(il)
	if r.Rounds != 3 || r.FloorP50 != 300*time.Microsecond || math.Abs(r.Ratio-1.2) > 1e-9 || math.Abs(r.Paired-1.1) > 1e-9 {
		t.Fatalf("rounds %d floor %v ratio %v paired %v", r.Rounds, r.FloorP50, r.Ratio, r.Paired)
	}
	if math.Abs(r.HopRatio-1) > 1e-9 || math.Abs(r.HopPaired-1) > 1e-9 || r.Pass {
		t.Fatalf("hop %v %v, pass %v (1.2 > 1.15)", r.HopRatio, r.HopPaired, r.Pass)
	}
}

// TestAlternateRotates: with rotate, the first target of each round moves
// on by one, and each target's runs stay in round order; without it, the
// order is the same every round.
func TestAlternateRotates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, rotate := range []bool{false, true} {
			var order []string
			path := func(name string) namedOp {
				return namedOp{name: name, do: func(context.Context) error {
					if len(order) == 0 || order[len(order)-1] != name {
						order = append(order, name)
					}
					time.Sleep(time.Millisecond)
					return nil
				}}
			}
			// Each run is preceded by its warm-up: the same name twice in a row
			// counts once in order.
			runs := alternate(context.Background(), []namedOp{path("a"), path("b"), path("c")}, 3, 1, 10*time.Millisecond, 5*time.Millisecond, rotate, func(string) {})
			want := []string{"a", "b", "c", "a", "b", "c", "a", "b", "c"}
			if rotate {
				want = []string{"a", "b", "c", "b", "c", "a", "c", "a", "b"}
			}
			if !slices.Equal(order, want) {
				t.Fatalf("rotate %v: order %v, want %v", rotate, order, want)
			}
			for i, r := range runs {
				if len(r) != 3 || r[0].OK != 10 {
					t.Fatalf("rotate %v: target %d has %d runs, the first with %d calls; want 3 runs of 10", rotate, i, len(r), r[0].OK)
				}
			}
		}
	})
}

// TestScoreSlicedPairsRounds: the ratio of each round is taken against
// that round's series limit, so a round in which every path ran at half
// speed counts the same as the others, and the quartiles and the verdict
// follow the per-round ratios.
func TestScoreSlicedPairsRounds(t *testing.T) {
	runs := func(rps ...float64) []loadResult {
		var r []loadResult
		for _, x := range rps {
			r = append(r, loadResult{RPS: x})
		}
		return r
	}
	// ping 3000 and raw 1500 msg/s: a series limit of 1000 (500 in the slow
	// second round).
	s := scoreSliced(16, 300*time.Millisecond, [][]loadResult{
		runs(900, 400, 800, 860), // handler: 0.90, 0.80, 0.80, 0.86
		runs(1500, 750, 1500, 1500),
		runs(3000, 1500, 3000, 3000),
		runs(950, 475, 950, 950), // minimal hop: 0.95 every round
	})
	if s.Rounds != 4 || s.Handler != 830 || s.Raw != 1500 || s.Ping != 3000 || s.Hop != 950 {
		t.Fatalf("rounds %d, medians %v %v %v %v", s.Rounds, s.Handler, s.Raw, s.Ping, s.Hop)
	}
	if math.Abs(s.Ratio-0.83) > 1e-9 || math.Abs(s.Low-0.80) > 1e-9 || math.Abs(s.High-0.90) > 1e-9 || math.Abs(s.HopRatio-0.95) > 1e-9 {
		t.Fatalf("ratio %v quartiles %v–%v hop %v", s.Ratio, s.Low, s.High, s.HopRatio)
	}
	if s.Pass {
		t.Fatal("0.83 passed a target of 0.85")
	}
	if s := scoreSliced(16, time.Second, [][]loadResult{nil, nil, nil, nil}); s.Rounds != 0 || s.Ratio != 0 || s.Pass {
		t.Fatalf("no rounds: %+v", s)
	}
}
