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
