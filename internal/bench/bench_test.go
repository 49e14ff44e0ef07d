package main

import (
	"context"
	"encoding/binary"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

func TestSummarizePercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := summarize(d)
	want := latencySummary{N: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond,
		Min: time.Millisecond, Max: 100 * time.Millisecond, Mean: 50500 * time.Microsecond}
	if s != want {
		t.Fatalf("summarize = %+v, want %+v", s, want)
	}
	if got := summarize(nil); got != (latencySummary{}) {
		t.Fatalf("summarize(nil) = %+v", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Fatalf("percentile of one = %v", got)
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
pkg: example/signalr
BenchmarkGenerateAccessToken-2   	 1579464	       757.5 ns/op	     448 B/op	       2 allocs/op
BenchmarkNoMem-2   	 10	       12 ns/op
--- FAIL: BenchmarkBroken
PASS
`
	got := parseBench("./signalr", strings.NewReader(out))
	if len(got) != 2 {
		t.Fatalf("parsed %d lines, want 2: %+v", len(got), got)
	}
	want := goBenchLine{Package: "./signalr", Name: "BenchmarkGenerateAccessToken-2", N: 1579464, NsPerOp: 757.5, BytesPerOp: 448, AllocsPerOp: 2}
	if got[0] != want {
		t.Fatalf("line 0 = %+v, want %+v", got[0], want)
	}
	if got[1].Name != "BenchmarkNoMem-2" || got[1].NsPerOp != 12 || got[1].BytesPerOp != 0 {
		t.Fatalf("line 1 = %+v", got[1])
	}
}

func TestBenchPackagesFindsThisModulesBenchmarks(t *testing.T) {
	pkgs, err := benchPackages("../..")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pkgs {
		if p == "./signalr" {
			found = true
		}
		if strings.Contains(p, "node_modules") || strings.Contains(p, "testdata") {
			t.Errorf("walked into %s", p)
		}
	}
	if !found {
		t.Fatalf("./signalr (BenchmarkGenerateAccessToken) not found in %v", pkgs)
	}
}

// TestInvocationOrderAndDuplicates feeds one client the records a burst
// produces, reordered and duplicated, and checks every counter.
func TestInvocationOrderAndDuplicates(t *testing.T) {
	tr := newTracker(2, 4)
	c := &hubClient{tr: tr, roundAt: make([]time.Time, 2), seen: make([]bool, 5)}
	now := time.Unix(100, 0)
	frame := func(recs ...string) []byte {
		return []byte(strings.Join(recs, "\x1e") + "\x1e")
	}
	c.handle(frame(
		`{"type":6}`,
		`{"type":1,"target":"burst","arguments":[1]}`,
		`{"type":1,"target":"burst","arguments":[3]}`,
		`{"type":1,"target":"burst","arguments":[2]}`, // after 3: out of order
		`{"type":1,"target":"burst","arguments":[3]}`, // duplicate
		`{"type":1,"target":"fanout","arguments":[1]}`,
		`{"type":1,"target":"newMessage","arguments":["x"]}`,
		`{"type":1,"target":"presence","arguments":[{"event":"connected"}]}`,
		`not json`,
	), now)
	if c.burstN != 3 || c.outOrder != 1 || c.dups != 1 || c.unknown != 1 || c.newMsgs != 1 || c.presence != 1 {
		t.Fatalf("burstN=%d outOrder=%d dups=%d unknown=%d newMsgs=%d presence=%d", c.burstN, c.outOrder, c.dups, c.unknown, c.newMsgs, c.presence)
	}
	if tr.burstFull.Load() != 0 {
		t.Fatal("burst counted complete with 3 of 4")
	}
	c.handle(frame(`{"type":1,"target":"burst","arguments":[4]}`), now)
	if tr.burstFull.Load() != 1 || !c.burstLast.Equal(now) {
		t.Fatalf("burstFull=%d burstLast=%v", tr.burstFull.Load(), c.burstLast)
	}
	if tr.roundGot[1].Load() != 1 || tr.roundGot[0].Load() != 0 || !c.roundAt[1].Equal(now) {
		t.Fatal("round 1 not recorded alone")
	}
	c.handle(frame(`{"type":7,"error":"bye"}`), now)
	if c.closeErr != "server closed the connection: bye" {
		t.Fatalf("closeErr = %q", c.closeErr)
	}
}

func TestNegotiateChecksTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write(baselineBody)
		case "/empty":
			_, _ = w.Write([]byte(`{"url":""}`))
		default:
			http.Error(w, "nope", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	nr, err := negotiate(context.Background(), srv.Client(), srv.URL+"/ok")
	if err != nil || nr.AccessToken != baselineToken || nr.URL != "http://localhost:8888/client/?hub=chat" {
		t.Fatalf("negotiate = %+v, %v", nr, err)
	}
	if len(baselineToken) != 200 {
		t.Fatalf("baseline token has %d characters", len(baselineToken))
	}
	if _, err := negotiate(context.Background(), srv.Client(), srv.URL+"/empty"); err == nil {
		t.Fatal("an answer without url and accessToken was accepted")
	}
	if _, err := negotiate(context.Background(), srv.Client(), srv.URL+"/denied"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("403 not reported: %v", err)
	}
}

// TestRunLoadCountsErrorsAndStopsInTime runs the load loop in a synctest
// bubble: each call takes 1 ms of the bubble's clock, so the run ends at its
// duration exactly, whatever the machine's load.
func TestRunLoadCountsErrorsAndStopsInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const dur, callTime = 100 * time.Millisecond, time.Millisecond
		n := 0
		mu := make(chan struct{}, 1)
		mu <- struct{}{}
		res := runLoad(context.Background(), "t", func(ctx context.Context) error {
			<-mu
			n++
			odd := n%2 == 1
			mu <- struct{}{}
			time.Sleep(callTime) // the call's duration, on the bubble's clock
			if odd {
				return context.DeadlineExceeded
			}
			return nil
		}, 2, dur)
		if res.OK == 0 || res.Errors == 0 || res.FirstError == "" {
			t.Fatalf("ok=%d errors=%d first=%q", res.OK, res.Errors, res.FirstError)
		}
		if res.Elapsed != dur {
			t.Fatalf("run took %s for a %s duration", res.Elapsed, dur)
		}
		if res.OK+res.Errors != 2*int(dur/callTime) {
			t.Errorf("%d ok + %d errors, want %d calls (2 workers, %s each)", res.OK, res.Errors, 2*int(dur/callTime), callTime)
		}
		if res.Latency.N != res.OK || res.RPS <= 0 {
			t.Fatalf("latency n=%d ok=%d rps=%f", res.Latency.N, res.OK, res.RPS)
		}
	})
}

// TestMsgpackRecordsAcrossFrames feeds a MessagePack client records split
// across frames and checks they are counted once, with their wire size.
func TestMsgpackRecordsAcrossFrames(t *testing.T) {
	tr := newTracker(1, 2)
	c := &hubClient{tr: tr, roundAt: make([]time.Time, 1), seen: make([]bool, 3), msgpack: true}
	rec := func(target string, n int) []byte {
		b, err := msgpack.Marshal([]any{1, map[string]string{}, nil, target, []any{n}, []any{}})
		if err != nil {
			t.Fatal(err)
		}
		return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
	}
	all := append(append(append(rec("fanout", 0), rec("burst", 1)...), rec("burst", 1)...), rec("burst", 2)...)
	now := time.Unix(100, 0)
	for i := 0; i < len(all); i += 7 {
		c.handle(all[i:min(i+7, len(all))], now)
	}
	if tr.roundGot[0].Load() != 1 || c.fanoutBytes != len(rec("fanout", 0)) || c.burstN != 2 || c.dups != 1 || tr.burstFull.Load() != 1 || c.unknown != 0 {
		t.Fatalf("roundGot=%d bytes=%d burstN=%d dups=%d full=%d unknown=%d", tr.roundGot[0].Load(), c.fanoutBytes, c.burstN, c.dups, tr.burstFull.Load(), c.unknown)
	}
}

func TestBroadcastPhaseScore(t *testing.T) {
	run := func(rps float64, p50 time.Duration) []loadResult {
		return []loadResult{{Name: "x", RPS: rps / 2, Latency: latencySummary{P50: 10 * p50, P99: 10 * p50}}, {Name: "x", RPS: rps, Latency: latencySummary{P50: p50, P99: 2 * p50}}}
	}
	// ping 4000/s at 0.1 ms, raw 4000/s at 0.4 ms: floor 0.5 ms, series 2000/s.
	ph := broadcastPhase{Concurrency: 1, Handler: run(1800, 550*time.Microsecond), SDK: run(3000, 500*time.Microsecond),
		Raw: run(4000, 400*time.Microsecond), Ping: run(4000, 100*time.Microsecond), Hop: run(2000, 450*time.Microsecond)}
	ph.score()
	if ph.HopFloorRatio != 0.9 || ph.HopRPSRatio != 0.9 || ph.HopP50Ratio < 1.22 || ph.HopP50Ratio > 1.23 {
		t.Fatalf("minimal hop ratios %v %v %v", ph.HopFloorRatio, ph.HopP50Ratio, ph.HopRPSRatio)
	}
	if ph.FloorP50 != 500*time.Microsecond || ph.FloorRatio != 1.1 || ph.SeriesRPS != 2000 || ph.SeriesRatio != 0.9 || !ph.Pass {
		t.Fatalf("unloaded phase scored %+v", ph)
	}
	if ph.P50Ratio != 1.1 || ph.RPSRatio != 0.6 {
		t.Fatalf("SDK ratios %v %v", ph.P50Ratio, ph.RPSRatio)
	}
	ph.Concurrency = 16 // the loaded goal is throughput: 0.9 ≥ 0.85
	ph.score()
	if !ph.Pass {
		t.Fatal("loaded phase at 0.9× the series limit should pass")
	}
	ph.Handler = run(1600, 550*time.Microsecond)
	ph.score()
	if ph.Pass || ph.SeriesRatio != 0.8 {
		t.Fatalf("loaded phase at 0.8× passed: %+v", ph)
	}
}

// TestFanoutDrain checks the drain condition on clients fed records
// directly: it waits for every client's own announcement, sends another
// marker when presence came after one, and reports what never arrived.
func TestFanoutDrain(t *testing.T) {
	presence := func(id string) []byte {
		return []byte(`{"type":1,"target":"presence","arguments":[{"connectionId":"` + id + `","userId":null,"event":"connected"}]}` + "\x1e")
	}
	marker := func(seq int) []byte {
		return []byte(`{"type":1,"target":"drain","arguments":[` + strconv.Itoa(seq) + `]}` + "\x1e")
	}
	setup := func(n int) (*tracker, []*hubClient) {
		tr := newTracker(1, 1)
		var cs []*hubClient
		for i := range n {
			cs = append(cs, &hubClient{id: "c" + strconv.Itoa(i), tr: tr, roundAt: make([]time.Time, 1), seen: make([]bool, 2)})
		}
		return tr, cs
	}
	now := time.Unix(100, 0)

	t.Run("late announcement", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr, cs := setup(3)
			// Every client sees the others' announcements; c2's own comes late.
			for _, c := range cs {
				c.handle(presence("c0"), now)
				c.handle(presence("c1"), now)
			}
			go func() {
				time.Sleep(2 * time.Second)
				for _, c := range cs {
					c.handle(presence("c2"), now)
				}
			}()
			var sent []int
			send := func(target string, seq int) error {
				if target != drainTarget {
					t.Errorf("sent %q", target)
				}
				sent = append(sent, seq)
				for i, c := range cs {
					c.handle(marker(seq), now)
					if seq == 1 && i == 0 {
						// An announcement queued behind the first marker.
						c.handle(presence("x"), now)
					}
				}
				return nil
			}
			markers, missing, drained, err := fanoutDrain(context.Background(), cs, tr, time.Minute, true, send)
			if err != nil || !drained || missing != 0 || markers != 2 || len(sent) != 2 || sent[1] != 2 {
				t.Fatalf("markers=%d missing=%d drained=%v err=%v sent=%v", markers, missing, drained, err, sent)
			}
			if cs[0].presence != 4 || cs[0].presenceAfter != 0 || tr.ownPresence.Load() != 3 {
				t.Fatalf("presence=%d after=%d own=%d", cs[0].presence, cs[0].presenceAfter, tr.ownPresence.Load())
			}
			cs[1].handle(presence("y"), now) // during the measurement
			if got := presenceAfterMarker(cs); got != 1 {
				t.Fatalf("presence after the drain = %d, want 1", got)
			}
		})
	})

	t.Run("own announcement missing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr, cs := setup(2)
			cs[0].handle(presence("c0"), now)
			send := func(_ string, seq int) error {
				for _, c := range cs {
					c.handle(marker(seq), now)
				}
				return nil
			}
			t0 := time.Now()
			markers, missing, drained, err := fanoutDrain(context.Background(), cs, tr, 10*time.Second, true, send)
			if err != nil || drained || missing != 1 {
				t.Fatalf("markers=%d missing=%d drained=%v err=%v", markers, missing, drained, err)
			}
			if d := time.Since(t0); d < 10*time.Second || d > 11*time.Second {
				t.Fatalf("waited %s for a 10 s bound", d)
			}
		})
	})

	t.Run("ended connection", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr, cs := setup(3)
			for _, c := range cs {
				c.done = make(chan struct{})
			}
			cs[0].handle(presence("c0"), now)
			cs[1].handle(presence("c1"), now)
			// c2 got its own announcement, then its connection ended.
			cs[2].handle(presence("c2"), now)
			close(cs[2].done)
			tr.closed.Add(1)
			send := func(_ string, seq int) error {
				cs[0].handle(marker(seq), now)
				cs[1].handle(marker(seq), now)
				return nil
			}
			t0 := time.Now()
			markers, missing, drained, err := fanoutDrain(context.Background(), cs, tr, time.Minute, true, send)
			if err != nil || !drained || missing != 0 || markers != 1 || time.Since(t0) != 0 {
				t.Fatalf("markers=%d missing=%d drained=%v err=%v after %s", markers, missing, drained, err, time.Since(t0))
			}
			// A live client without the marker is still waited for, even
			// though the counters add up (c2 counted twice).
			tr.drainGot.Store(0)
			cs[1].done = make(chan struct{})
			send = func(_ string, seq int) error {
				cs[0].handle(marker(seq), now)
				cs[2].handle(marker(seq), now)
				return nil
			}
			cs[1].drainSeq = 0
			if _, _, drained, _ := fanoutDrain(context.Background(), cs, tr, time.Minute, false, send); drained {
				t.Fatal("drained while a live client lacked the marker")
			}
		})
	})

	t.Run("marker lost", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr, cs := setup(2)
			for _, c := range cs {
				c.handle(presence(c.id), now)
			}
			send := func(_ string, seq int) error {
				cs[0].handle(marker(seq), now) // cs[1] never gets it
				return nil
			}
			t0 := time.Now()
			markers, _, drained, err := fanoutDrain(context.Background(), cs, tr, 5*time.Second, true, send)
			if err != nil || drained || markers != 1 || time.Since(t0) < markerTimeout {
				t.Fatalf("markers=%d drained=%v err=%v after %s", markers, drained, err, time.Since(t0))
			}
		})
	})
}

// TestFanoutDrainWithoutPresence: without presence the drain is one marker
// that every client must get; it does not wait for announcements.
func TestFanoutDrainWithoutPresence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker(1, 1)
		cs := []*hubClient{{id: "a", tr: tr}, {id: "b", tr: tr}}
		send := func(target string, seq int) error {
			for _, c := range cs {
				c.handle([]byte(`{"type":1,"target":"`+target+`","arguments":[`+strconv.Itoa(seq)+`]}`+"\x1e"), time.Unix(1, 0))
			}
			return nil
		}
		t0 := time.Now()
		markers, missing, drained, err := fanoutDrain(context.Background(), cs, tr, time.Minute, false, send)
		if err != nil || !drained || missing != 0 || markers != 1 || time.Since(t0) != 0 {
			t.Fatalf("markers=%d missing=%d drained=%v err=%v after %s", markers, missing, drained, err, time.Since(t0))
		}
	})
}

func TestPresenceBudget(t *testing.T) {
	if presenceBudget(5000, false) != 0 {
		t.Fatal("budget without presence")
	}
	if got, want := presenceBudget(5000, true), 12_500_000*presenceDelivery; got != want {
		t.Fatalf("budget(5000) = %s, want %s", got, want)
	}
}

// TestPingLoopCountsFromTheConnectStart: a client whose connect took a
// whole ping interval pings at once (the JS client's keep-alive runs from
// the handshake request), then every interval.
func TestPingLoopCountsFromTheConnectStart(t *testing.T) {
	got := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			_, b, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			got <- b
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &hubClient{conn: conn, done: make(chan struct{})}
	defer func() { close(c.done); conn.CloseNow() }()
	go c.pingLoop(false, time.Now().Add(-clientPingInterval-time.Second))
	select {
	case b := <-got:
		if string(b) != "{\"type\":6}\x1e" {
			t.Fatalf("first frame %q, want a ping", b)
		}
	case <-ctx.Done():
		t.Fatal("no ping although the interval since the connect start had passed")
	}
}

// TestPairedRatiosCancelDrift checks the per-round figures: the machine
// runs at a different speed in each round, the handler is always 1.2×
// the floor and 0.8× the series limit within a round, while the best runs
// of each path come from different rounds.
func TestPairedRatiosCancelDrift(t *testing.T) {
	var ph broadcastPhase
	ph.Concurrency = 16
	for _, speed := range []float64{1, 2, 1.5} {
		at := func(rps float64, p50 time.Duration) loadResult {
			return loadResult{Name: "x", RPS: rps * speed, Latency: latencySummary{P50: time.Duration(float64(p50) / speed)}}
		}
		ph.Ping = append(ph.Ping, at(4000, 100*time.Microsecond))
		ph.Raw = append(ph.Raw, at(4000, 400*time.Microsecond))
		ph.Handler = append(ph.Handler, at(1600, 600*time.Microsecond))
	}
	ph.Handler[1].RPS, ph.Handler[1].Latency.P50 = 0, 0 // a failed run in the fast round
	ph.score()
	if math.Abs(ph.PairedFloor-1.2) > 1e-4 || math.Abs(ph.PairedSeries-0.8) > 1e-4 || len(ph.RoundsFloor) != 2 {
		t.Fatalf("paired %v %v, rounds %v %v", ph.PairedFloor, ph.PairedSeries, ph.RoundsFloor, ph.RoundsSeries)
	}
	if ph.SeriesRatio > 0.7 { // best handler run (speed 1.5) over the fast round's series limit
		t.Fatalf("best-run series ratio %v: the fixture does not drift", ph.SeriesRatio)
	}
	if m, each := pairedMedian(4, func(i int) float64 { return []float64{0.9, 0, 0.7, 0.8}[i] }); m != 0.8 || len(each) != 3 {
		t.Fatalf("median %v of %v", m, each)
	}
	if m, _ := pairedMedian(2, func(i int) float64 { return []float64{0.9, 0.7}[i] }); math.Abs(m-0.8) > 1e-9 {
		t.Fatalf("median of two %v", m)
	}
	a := []loadResult{{RPS: 80}, {RPS: 180}, {RPS: 90}}
	b := []loadResult{{RPS: 100}, {RPS: 200}, {RPS: 100}}
	if m, each := pairedRPS(a, b); m != 0.9 || ratios(each) != "0.80, 0.90, 0.90" {
		t.Fatalf("pairedRPS %v %v", m, each)
	}
}
