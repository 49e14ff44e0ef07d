package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/serverless-signalr/functions-go/signalr"
)

// The broadcast goals of the performance issue. The floor of a broadcast
// through the handler is one bare HTTP hop to the handler (ping) plus the
// same REST send made directly with a cached token (direct raw):
//   - unloaded, the handler's p50 ≤ broadcastLatencyTarget × (ping p50 +
//     direct raw p50);
//   - loaded, the handler's throughput ≥ broadcastThroughputTarget × the
//     series limit of the two, 1 / (1/ping msg/s + 1/direct raw msg/s).
const (
	broadcastLatencyTarget    = 1.15
	broadcastThroughputTarget = 0.85
)

// broadcastReport compares a broadcast through the handler with the same
// REST call made directly to the emulator.
type broadcastReport struct {
	DurationS float64          `json:"duration_s"`
	Listeners int              `json:"listeners"`
	Phases    []broadcastPhase `json:"phases"`
	// Interleaved is the unloaded latency once more, request by request.
	Interleaved *interleavedReport `json:"interleaved,omitempty"`
	// Sliced is the loaded throughput once more, in short runs.
	Sliced *slicedReport `json:"sliced,omitempty"`
	// Sent is every accepted broadcast (warm-ups included); each listener
	// must receive all of them.
	Sent         int64  `json:"sent"`
	Expected     int64  `json:"expected_deliveries"`
	Received     int64  `json:"received_deliveries"`
	Lost         int64  `json:"lost"`
	Disconnected int    `json:"listeners_disconnected"`
	DisconnectBy string `json:"disconnect_reason,omitempty"`
}

// broadcastPhase is the three paths loaded at one concurrency.
type broadcastPhase struct {
	Concurrency int          `json:"concurrency"`
	Handler     []loadResult `json:"handler_runs"`
	SDK         []loadResult `json:"sdk_runs"`
	Raw         []loadResult `json:"raw_runs"`
	// Ping is GET / on the handler (no work, no service call): the cost
	// of the extra HTTP hop alone.
	Ping []loadResult `json:"handler_ping_runs,omitempty"`
	// OneProc is the handler path on a second handler process started
	// with GOMAXPROCS=1 (a tuning figure, not a goal); OneProcRatio is its
	// p50 over the floor.
	OneProc      []loadResult `json:"handler_gomaxprocs1_runs,omitempty"`
	OneProcRatio float64      `json:"ratio_p50_floor_gomaxprocs1,omitempty"`
	// Hop is POST /api/broadcast on `bench hop-server`, the least a Go
	// process does for a broadcast (runHopServer); HopFloorRatio is its
	// p50 over the floor, HopP50Ratio and HopRPSRatio the handler's p50
	// and throughput over it.
	Hop           []loadResult `json:"minimal_hop_runs,omitempty"`
	HopFloorRatio float64      `json:"ratio_p50_floor_minimal_hop,omitempty"`
	HopP50Ratio   float64      `json:"ratio_p50_minimal_hop,omitempty"`
	HopRPSRatio   float64      `json:"ratio_rps_minimal_hop,omitempty"`
	// FloorP50 is ping p50 + direct raw p50 (best runs); FloorRatio is the
	// handler's p50 over it.
	FloorP50   time.Duration `json:"floor_p50_ns"`
	FloorRatio float64       `json:"ratio_p50_floor"`
	// SeriesRPS is the series limit of ping and direct raw; SeriesRatio
	// is the handler's throughput over it.
	SeriesRPS   float64 `json:"series_limit_rps"`
	SeriesRatio float64 `json:"ratio_rps_series"`
	// PairedFloor and PairedSeries are the medians over rounds of the same
	// ratios taken within each round (handler run over that round's ping
	// and raw runs), Rounds{Floor,Series} the per-round values: a check
	// of the best-run ratios against the machine's drift.
	PairedFloor  float64   `json:"paired_ratio_p50_floor"`
	PairedSeries float64   `json:"paired_ratio_rps_series"`
	RoundsFloor  []float64 `json:"round_ratios_p50_floor,omitempty"`
	RoundsSeries []float64 `json:"round_ratios_rps_series,omitempty"`
	// P50Ratio, P99Ratio and RPSRatio compare the handler with the direct
	// SDK call (best runs), for reference.
	P50Ratio float64 `json:"ratio_p50_sdk"`
	P99Ratio float64 `json:"ratio_p99_sdk"`
	RPSRatio float64 `json:"ratio_rps_sdk"`
	// Pass is the phase's goal: the latency goal unloaded (one worker),
	// the throughput goal loaded.
	Pass bool `json:"pass"`
}

// benchBroadcast loads four paths with the same concurrency, alternating,
// first with cfg.bcConc workers, then with one (unloaded latency): the
// handler's POST /api/broadcast, the signalr SDK client's SendToAll, raw
// net/http with a cached HS256 token straight to the emulator, and a bare
// GET / on the handler (the hop alone). Listeners connected through the
// handler's negotiate receive every message, so each send is a real
// fan-out.
func benchBroadcast(ctx context.Context, cfg config, st *stack, progress func(string)) (*broadcastReport, error) {
	r := &broadcastReport{DurationS: cfg.bcDur.Seconds()}
	tr := newTracker(0, 0)
	wsc := &http.Client{Transport: newLoadTransport(cfg.listeners)}
	listeners, _, fails, err := connectMany(ctx, wsc, st.hBase()+"/api/negotiate?negotiateVersion=1", tr, cfg.listeners, 8, 30*time.Second)
	defer closeAll(listeners)
	if fails > 0 {
		return nil, fmt.Errorf("%d of %d listeners could not connect: %v", fails, cfg.listeners, err)
	}
	r.Listeners = len(listeners)

	const payload = "hello from the benchmark, a chat-sized message"
	body := []byte(`{"target":"newMessage","arguments":["` + payload + `"]}`)
	var sent atomic.Int64
	counted := func(o op) op {
		return func(ctx context.Context) error {
			err := o(ctx)
			if err == nil {
				sent.Add(1)
			}
			return err
		}
	}

	hc := &http.Client{Transport: newLoadTransport(cfg.bcConc)}
	defer hc.CloseIdleConnections()
	handlerOp := httpOp(hc, "POST", st.hBase()+"/api/broadcast", jsonHeader, body, http.StatusAccepted)

	// The same handler on one P: fewer cross-thread wake-ups per hop.
	one, oneBase, err := startServer(ctx, "handler (GOMAXPROCS=1)", st.handlerPath, nil,
		func(port int) []string { return append(st.handlerEnv(port), "GOMAXPROCS=1") })
	if err != nil {
		return nil, err
	}
	defer one.stop()
	oneOp := httpOp(hc, "POST", oneBase+"/api/broadcast", jsonHeader, body, http.StatusAccepted)

	o := &signalr.ClientOptions{Logger: st.log}
	o.Telemetry.ApplicationID = "bench"
	sdk, err := signalr.NewClientFromConnectionString(st.connStr, o)
	if err != nil {
		return nil, err
	}
	msg, err := signalr.NewMessage("newMessage", payload)
	if err != nil {
		return nil, err
	}
	sdkOp := func(ctx context.Context) error {
		_, err := sdk.SendToAll(ctx, hub, msg, nil)
		return err
	}

	rc := &http.Client{Transport: newLoadTransport(cfg.bcConc)}
	defer rc.CloseIdleConnections()
	restPath := "/api/hubs/" + hub + "/:send?api-version=2022-06-01"
	aud := "http://127.0.0.1" + restPath
	tok, err := signalr.GenerateAccessToken(signalr.AccessKey{Value: devKey}, aud, &signalr.TokenOptions{Lifetime: time.Hour})
	if err != nil {
		return nil, err
	}
	bearer := "Bearer " + tok
	rawHeader := http.Header{"Content-Type": {"application/json"}, "Authorization": {bearer}}
	rawOp := httpOp(rc, "POST", st.emBase()+restPath, rawHeader, body, http.StatusAccepted)

	// The minimal Go hop: the same raw send behind one HTTP hop.
	hop, hopBase, err := startServer(ctx, "minimal hop", st.self, []string{"hop-server"}, func(port int) []string {
		return baseEnv("FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port), "BENCH_HOP_TARGET="+st.emBase()+restPath, "BENCH_HOP_AUTH="+bearer)
	})
	if err != nil {
		return nil, err
	}
	defer hop.stop()
	hopOp := httpOp(hc, "POST", hopBase+"/api/broadcast", jsonHeader, body, http.StatusAccepted)

	// One call of each path first: a misconfigured path fails here, not as
	// a fast error loop.
	for name, o := range map[string]op{"handler": handlerOp, "sdk": sdkOp, "raw": rawOp, "handler (GOMAXPROCS=1)": oneOp, "minimal hop": hopOp} {
		if err := counted(o)(ctx); err != nil {
			return nil, fmt.Errorf("%s broadcast: %w", name, err)
		}
	}
	pingOp := httpOp(hc, "GET", st.hBase()+"/", nil, nil, http.StatusOK)
	for _, conc := range []int{cfg.bcConc, 1} {
		if ctx.Err() != nil {
			break
		}
		targets := []namedOp{
			{"handler", counted(handlerOp)},
			{"direct SDK", counted(sdkOp)},
			{"direct raw", counted(rawOp)},
			{"handler ping", pingOp},
			{"handler GOMAXPROCS=1", counted(oneOp)},
			{"minimal hop", counted(hopOp)},
		}
		runs := alternate(ctx, targets, cfg.bcRounds, conc, cfg.bcDur, cfg.warm, false, func(s string) { progress(fmt.Sprintf("%s, %d workers", s, conc)) })
		ph := broadcastPhase{Concurrency: conc, Handler: runs[0], SDK: runs[1], Raw: runs[2], Ping: runs[3], OneProc: runs[4], Hop: runs[5]}
		ph.score()
		r.Phases = append(r.Phases, ph)
	}

	if ctx.Err() == nil {
		progress("interleaved, 1 worker")
		il := interleave(ctx, []namedOp{
			{"ping", pingOp}, {"direct raw", counted(rawOp)}, {"handler", counted(handlerOp)},
			{"minimal hop", counted(hopOp)}, {"direct SDK", counted(sdkOp)},
		}, time.Duration(cfg.bcRounds)*cfg.bcDur)
		if il.Errors > 0 {
			return r, fmt.Errorf("interleaved: %d failed calls (first: %s)", il.Errors, il.FirstError)
		}
		r.Interleaved = scoreInterleaved(il)
	}
	var short [][]loadResult
	if ctx.Err() == nil {
		short = alternate(ctx, []namedOp{
			{"handler", counted(handlerOp)}, {"direct raw", counted(rawOp)}, {"handler ping", pingOp}, {"minimal hop", counted(hopOp)},
		}, cfg.bcSlices, cfg.bcConc, cfg.bcSlice, sliceWarm, true, func(s string) { progress(fmt.Sprintf("short runs: %s, %d workers", s, cfg.bcConc)) })
		r.Sliced = scoreSliced(cfg.bcConc, cfg.bcSlice, short)
	}

	// Every listener must get every accepted message.
	r.Sent = sent.Load()
	r.Expected = r.Sent * int64(len(listeners))
	waitUntil(ctx, 15*time.Second, func() bool { return tr.newMsgs.Load() >= r.Expected })
	r.Received = tr.newMsgs.Load()
	r.Lost = max(0, r.Expected-r.Received)
	r.Disconnected, r.DisconnectBy = disconnected(listeners)
	runs := slices.Concat(short...)
	for _, ph := range r.Phases {
		runs = slices.Concat(runs, ph.Handler, ph.SDK, ph.Raw, ph.OneProc, ph.Hop)
	}
	for _, x := range runs {
		if x.Errors > 0 {
			return r, fmt.Errorf("%s: %d failed broadcasts (first: %s)", x.Name, x.Errors, x.FirstError)
		}
	}
	return r, nil
}

// score computes the phase's ratios from its best runs.
func (ph *broadcastPhase) score() {
	h, s, raw, ping := best(ph.Handler), best(ph.SDK), best(ph.Raw), best(ph.Ping)
	if s.Latency.P50 > 0 && s.Latency.P99 > 0 && s.RPS > 0 {
		ph.P50Ratio = float64(h.Latency.P50) / float64(s.Latency.P50)
		ph.P99Ratio = float64(h.Latency.P99) / float64(s.Latency.P99)
		ph.RPSRatio = h.RPS / s.RPS
	}
	ph.FloorRatio, ph.FloorP50 = floorRatio(h, ping, raw)
	if ph.FloorP50 > 0 {
		if len(ph.OneProc) > 0 {
			ph.OneProcRatio = float64(best(ph.OneProc).Latency.P50) / float64(ph.FloorP50)
		}
		if hp := best(ph.Hop); hp.Latency.P50 > 0 && hp.RPS > 0 {
			ph.HopFloorRatio = float64(hp.Latency.P50) / float64(ph.FloorP50)
			ph.HopP50Ratio = float64(h.Latency.P50) / float64(hp.Latency.P50)
			ph.HopRPSRatio = h.RPS / hp.RPS
		}
	}
	ph.SeriesRatio, ph.SeriesRPS = seriesRatio(h, ping, raw)
	n := min(len(ph.Handler), len(ph.Ping), len(ph.Raw))
	ph.PairedFloor, ph.RoundsFloor = pairedMedian(n, func(i int) float64 {
		r, _ := floorRatio(ph.Handler[i], ph.Ping[i], ph.Raw[i])
		return r
	})
	ph.PairedSeries, ph.RoundsSeries = pairedMedian(n, func(i int) float64 {
		r, _ := seriesRatio(ph.Handler[i], ph.Ping[i], ph.Raw[i])
		return r
	})
	if ph.Concurrency == 1 {
		ph.Pass = ph.FloorRatio > 0 && ph.FloorRatio <= broadcastLatencyTarget
	} else {
		ph.Pass = ph.SeriesRatio >= broadcastThroughputTarget
	}
}

// floorRatio returns h's p50 over the floor, ping's p50 plus raw's (both
// 0 when either is missing).
func floorRatio(h, ping, raw loadResult) (ratio float64, floor time.Duration) {
	if ping.Latency.P50 <= 0 || raw.Latency.P50 <= 0 {
		return 0, 0
	}
	floor = ping.Latency.P50 + raw.Latency.P50
	return float64(h.Latency.P50) / float64(floor), floor
}

// seriesRatio returns h's throughput over the series limit of ping and
// raw, 1/(1/ping + 1/raw) (both 0 when either is missing).
func seriesRatio(h, ping, raw loadResult) (ratio, limit float64) {
	if ping.RPS <= 0 || raw.RPS <= 0 {
		return 0, 0
	}
	limit = 1 / (1/ping.RPS + 1/raw.RPS)
	return h.RPS / limit, limit
}

func (r *broadcastReport) failures() []string {
	var f []string
	if r.Lost > 0 {
		f = append(f, fmt.Sprintf("broadcast: %d of %d deliveries to listeners lost", r.Lost, r.Expected))
	}
	if r.Disconnected > 0 {
		f = append(f, fmt.Sprintf("broadcast: %d listeners disconnected (%s)", r.Disconnected, r.DisconnectBy))
	}
	return f
}

func (r *broadcastReport) print(w io.Writer) {
	fmt.Fprintf(w, "## 4. Broadcast (send to all in hub %q, %d WebSocket listeners connected through the handler's negotiate)\n", hub, r.Listeners)
	fmt.Fprintf(w, "closed loop, %.0f s per run, paths alternated, best run of each counted; first loaded, then one worker (unloaded latency)\n", r.DurationS)
	fmt.Fprintf(w, "  handler    = POST /api/broadcast on ./handler → emulator REST (the app's path)\n")
	fmt.Fprintf(w, "  direct SDK = signalr.Client.SendToAll straight to the emulator REST\n")
	fmt.Fprintf(w, "  direct raw = net/http POST …/:send straight to the emulator with a cached HS256 token\n")
	fmt.Fprintf(w, "  ping       = GET / on ./handler: the bare cost of the extra HTTP hop\n")
	fmt.Fprintf(w, "  GOMAXPROCS1 = the handler path on a second ./handler started with GOMAXPROCS=1 (tuning figure)\n")
	fmt.Fprintf(w, "  min. hop   = `bench hop-server`: reads the body and makes the direct raw send, nothing else (what any Go hop costs)\n")
	fmt.Fprintf(w, "  floor      = ping p50 + direct raw p50; series limit = 1 / (1/ping msg/s + 1/direct raw msg/s)\n")
	for _, ph := range r.Phases {
		fmt.Fprintf(w, "\n  %d worker(s) per path:\n", ph.Concurrency)
		fmt.Fprintf(w, "  %-11s %-4s %10s %10s %10s %10s\n", "path", "run", "msg/s", "p50", "p99", "max")
		rows := func(name string, runs []loadResult) {
			for i, x := range runs {
				fmt.Fprintf(w, "  %-11s %-4d %10.0f %10s %10s %10s\n", name, i+1, x.RPS, ms(x.Latency.P50), ms(x.Latency.P99), ms(x.Latency.Max))
			}
		}
		rows("handler", ph.Handler)
		rows("direct SDK", ph.SDK)
		rows("direct raw", ph.Raw)
		rows("ping", ph.Ping)
		rows("GOMAXPROCS1", ph.OneProc)
		rows("min. hop", ph.Hop)
		if ph.Concurrency == 1 {
			fmt.Fprintf(w, "  handler at %d worker(s): p50 %.2f× the floor (%s; target ≤ %.2f×) %s; throughput %.2f× the series limit\n",
				ph.Concurrency, ph.FloorRatio, ms(ph.FloorP50), broadcastLatencyTarget, verdict(ph.Pass), ph.SeriesRatio)
		} else {
			fmt.Fprintf(w, "  handler at %d worker(s): throughput %.2f× the series limit (%.0f msg/s; target ≥ %.2f×) %s; p50 %.2f× the floor\n",
				ph.Concurrency, ph.SeriesRatio, ph.SeriesRPS, broadcastThroughputTarget, verdict(ph.Pass), ph.FloorRatio)
		}
		fmt.Fprintf(w, "  paired by round (median; each round): p50 %.2f× the floor (%s); throughput %.2f× the series limit (%s)\n",
			ph.PairedFloor, ratios(ph.RoundsFloor), ph.PairedSeries, ratios(ph.RoundsSeries))
		fmt.Fprintf(w, "  handler/direct SDK: p50 %.2f×, p99 %.2f×, throughput %.2f×; the handler on GOMAXPROCS=1: p50 %.2f× the floor\n", ph.P50Ratio, ph.P99Ratio, ph.RPSRatio, ph.OneProcRatio)
		fmt.Fprintf(w, "  minimal hop: p50 %.2f× the floor; handler/minimal hop: p50 %.2f×, throughput %.2f×\n", ph.HopFloorRatio, ph.HopP50Ratio, ph.HopRPSRatio)
	}
	if il := r.Interleaved; il != nil {
		il.print(w)
	}
	if sl := r.Sliced; sl != nil {
		sl.print(w)
	}
	fmt.Fprintf(w, "\n  deliveries: %d broadcasts × %d listeners = %d expected, %d received, lost %d, listeners disconnected %d\n\n",
		r.Sent, r.Listeners, r.Expected, r.Received, r.Lost, r.Disconnected)
}

// interleavedReport is the unloaded broadcast taken request by request
// (interleave): ping, direct raw, handler, minimal hop and direct SDK once
// each per round.
type interleavedReport struct {
	Rounds   int            `json:"rounds"`
	Ping     latencySummary `json:"ping"`
	Raw      latencySummary `json:"raw"`
	Handler  latencySummary `json:"handler"`
	Hop      latencySummary `json:"minimal_hop"`
	SDK      latencySummary `json:"sdk"`
	FloorP50 time.Duration  `json:"floor_p50_ns"`
	// Ratio is the handler's p50 over the floor (ping p50 + direct raw
	// p50), Paired the median over rounds of the same ratio within each
	// round; HopRatio and HopPaired the same for the minimal hop.
	Ratio     float64 `json:"ratio_p50_floor"`
	Paired    float64 `json:"paired_ratio_p50_floor"`
	HopRatio  float64 `json:"ratio_p50_floor_minimal_hop"`
	HopPaired float64 `json:"paired_ratio_p50_floor_minimal_hop"`
	// Pass is the unloaded latency goal on this measure.
	Pass bool `json:"pass"`
}

// scoreInterleaved condenses il, whose paths are ping, direct raw,
// handler, minimal hop and direct SDK in this order.
func scoreInterleaved(il interleaved) *interleavedReport {
	const ping, raw, handler, hop, sdk = 0, 1, 2, 3, 4
	p, w, h, hp := il.result(ping), il.result(raw), il.result(handler), il.result(hop)
	r := &interleavedReport{Rounds: len(il.Lat[handler]),
		Ping: p.Latency, Raw: w.Latency, Handler: h.Latency, Hop: hp.Latency, SDK: il.result(sdk).Latency}
	r.Ratio, r.FloorP50 = floorRatio(h, p, w)
	r.HopRatio, _ = floorRatio(hp, p, w)
	r.Paired, r.HopPaired = il.pairedFloor(handler, ping, raw), il.pairedFloor(hop, ping, raw)
	r.Pass = r.Ratio > 0 && r.Ratio <= broadcastLatencyTarget
	return r
}

func (r *interleavedReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n  interleaved, request by request (1 worker; each round calls ping, direct raw, handler, min. hop and direct SDK once, the first path rotating; %d rounds):\n", r.Rounds)
	fmt.Fprintf(w, "  p50: ping %s, direct raw %s, handler %s, min. hop %s, direct SDK %s\n", ms(r.Ping.P50), ms(r.Raw.P50), ms(r.Handler.P50), ms(r.Hop.P50), ms(r.SDK.P50))
	fmt.Fprintf(w, "  handler p50 %.2f× the floor (%s; target ≤ %.2f×) %s; median of the per-round ratios %.2f×; min. hop %.2f× (per round %.2f×)\n",
		r.Ratio, ms(r.FloorP50), broadcastLatencyTarget, verdict(r.Pass), r.Paired, r.HopRatio, r.HopPaired)
}

// sliceWarm is the warm-up before each short run of the sliced measure;
// the connections are already open from the runs before it.
const sliceWarm = 100 * time.Millisecond

// slicedReport is the loaded broadcast once more in short runs: every
// round runs the handler, direct raw, ping and the minimal hop for a
// fraction of a second each, the first path rotating, so the ratio of
// each round compares runs about a second apart instead of the minutes
// between the rounds of the loop measure, and the machine's drift cancels
// within a round.
type slicedReport struct {
	Concurrency int     `json:"concurrency"`
	Rounds      int     `json:"rounds"`
	SliceS      float64 `json:"slice_s"`
	// Handler, Raw, Ping and Hop are each path's median msg/s over the
	// rounds.
	Handler float64 `json:"handler_rps"`
	Raw     float64 `json:"raw_rps"`
	Ping    float64 `json:"ping_rps"`
	Hop     float64 `json:"minimal_hop_rps"`
	// Ratio is the median over rounds of the handler's throughput over
	// that round's series limit, Low and High the quartiles of the
	// per-round ratios; HopRatio the minimal hop's median.
	Ratio    float64 `json:"median_ratio_rps_series"`
	Low      float64 `json:"q1_ratio_rps_series"`
	High     float64 `json:"q3_ratio_rps_series"`
	HopRatio float64 `json:"median_ratio_rps_series_minimal_hop"`
	// Pass is the loaded throughput goal on this measure.
	Pass bool `json:"pass"`
}

// scoreSliced condenses the short runs of handler, direct raw, ping and
// minimal hop (runs in this order, one per round).
func scoreSliced(conc int, slice time.Duration, runs [][]loadResult) *slicedReport {
	const handler, raw, ping, hop = 0, 1, 2, 3
	n := min(len(runs[handler]), len(runs[raw]), len(runs[ping]), len(runs[hop]))
	r := &slicedReport{Concurrency: conc, Rounds: n, SliceS: slice.Seconds()}
	if n == 0 {
		return r
	}
	median := func(path int) float64 {
		m, _ := pairedMedian(n, func(i int) float64 { return runs[path][i].RPS })
		return m
	}
	r.Handler, r.Raw, r.Ping, r.Hop = median(handler), median(raw), median(ping), median(hop)
	series := func(path int) (float64, []float64) {
		return pairedMedian(n, func(i int) float64 {
			x, _ := seriesRatio(runs[path][i], runs[ping][i], runs[raw][i])
			return x
		})
	}
	var each []float64
	r.Ratio, each = series(handler)
	r.HopRatio, _ = series(hop)
	if len(each) > 0 {
		slices.Sort(each)
		r.Low, r.High = each[len(each)/4], each[(3*len(each))/4]
	}
	r.Pass = r.Ratio >= broadcastThroughputTarget
	return r
}

func (r *slicedReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n  short runs (%d workers; %d rounds of %s per path, handler, direct raw, ping and min. hop, the first path rotating):\n",
		r.Concurrency, r.Rounds, ms(time.Duration(r.SliceS*float64(time.Second))))
	fmt.Fprintf(w, "  median msg/s: handler %.0f, direct raw %.0f, ping %.0f, min. hop %.0f\n", r.Handler, r.Raw, r.Ping, r.Hop)
	fmt.Fprintf(w, "  handler throughput: median of the per-round ratios %.2f× the series limit (quartiles %.2f–%.2f; target ≥ %.2f×) %s; min. hop %.2f×\n",
		r.Ratio, r.Low, r.High, broadcastThroughputTarget, verdict(r.Pass), r.HopRatio)
}
