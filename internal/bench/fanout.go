package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// fanoutRounds is the number of single broadcasts timed to every client.
const fanoutRounds = 3

// fanoutReport is delivery to many WebSocket clients.
type fanoutReport struct {
	Clients         int            `json:"clients"`
	Connected       int            `json:"connected"`
	ConnectFailures int            `json:"connect_failures"`
	ConnectError    string         `json:"connect_error,omitempty"`
	ConnectWall     time.Duration  `json:"connect_wall_ns"`
	ConnectLatency  latencySummary `json:"connect_latency"`
	Parallelism     int            `json:"connect_parallelism"`
	// Single is the time from the start of the POST to each client's
	// receipt, over all rounds; RoundMax is the slowest client per round.
	Single latencySummary `json:"single"`
	// Per protocol (half the clients each): delivery of the single
	// broadcasts and the size of one "fanout" record on the wire.
	SingleJSON     latencySummary `json:"single_json"`
	SingleMsgpack  latencySummary `json:"single_msgpack"`
	BytesJSON      int            `json:"bytes_per_message_json"`
	BytesMsgpack   int            `json:"bytes_per_message_msgpack"`
	ClientsJSON    int            `json:"clients_json"`
	ClientsMsgpack int            `json:"clients_msgpack"`
	// EmulatorRSSBefore/After: the emulator's resident memory before the
	// clients connect and once they are connected; PerConnBytes is the
	// difference per connected client.
	EmulatorRSSBefore int64           `json:"emulator_rss_before_bytes"`
	EmulatorRSSAfter  int64           `json:"emulator_rss_after_bytes"`
	PerConnBytes      int64           `json:"emulator_bytes_per_connection"`
	RoundMax          []time.Duration `json:"round_max_ns"`
	SingleLost        int             `json:"single_lost"`
	// Burst: Burst sequential broadcasts, each POST awaited before the next.
	Burst         int            `json:"burst"`
	BurstSend     time.Duration  `json:"burst_send_ns"`
	BurstAll      time.Duration  `json:"burst_all_received_ns"`
	BurstClient   latencySummary `json:"burst_client_done"`
	BurstLost     int            `json:"burst_lost"`
	BurstOutOrder int            `json:"burst_out_of_order"`
	Duplicates    int            `json:"duplicates"`
	Unknown       int            `json:"unparsed_records"`
	// PresenceOn: the emulator had the handler as its upstream (the
	// default, -fanout-upstream), so the chat hub announced every connect
	// to every connected client, about n²/2 presence records for n
	// clients. Presence counts the records the clients got.
	PresenceOn bool `json:"presence_on"`
	Presence   int  `json:"presence_events"`
	// Drained: the measured broadcasts started only after every
	// announcement of the connect phase was delivered and an unmeasured
	// marker broadcast reached every client (fanoutDrain; without presence,
	// the marker alone), which took DrainWait after the last connect and
	// DrainMarkers marker broadcasts; OwnPresenceMissing clients never got the announcement of
	// their own connect. PresenceDuringMeasure counts presence records
	// that still arrived after the drain, during the measured broadcasts
	// (0 for clean figures).
	Drained               bool          `json:"presence_drained"`
	DrainWait             time.Duration `json:"presence_drain_wait_ns"`
	DrainMarkers          int           `json:"presence_drain_markers"`
	OwnPresenceMissing    int           `json:"own_presence_missing"`
	PresenceDuringMeasure int           `json:"presence_during_measure"`
	Disconnected          int           `json:"disconnected"`
	DisconnectBy          string        `json:"disconnect_reason,omitempty"`
}

// drainTarget is the marker broadcast of fanoutDrain.
const drainTarget = "drain"

// maxDrainMarkers bounds the marker broadcasts of fanoutDrain.
const maxDrainMarkers = 5

// presenceDelivery is a generous bound of what one presence delivery costs
// on the benchmark's 2-core machine with the emulator, the handler and the
// clients on it (measured: 4.6 million in 54 s at 3,000 clients, ~12 µs):
// the connect and drain phases get that much more time per expected
// record, so that -clients 5000 finishes instead of timing out.
const presenceDelivery = 16 * time.Microsecond

// presenceBudget is the extra time n clients' presence storm may take.
func presenceBudget(n int, on bool) time.Duration {
	if !on {
		return 0
	}
	return time.Duration(n) * time.Duration(n) / 2 * presenceDelivery
}

// fanoutDrain waits until the presence announcements of the connect phase
// are delivered, so that no measured broadcast queues behind them: first
// until every client has received the announcement of its own connect
// (then every announcement has been queued: the hub makes one per connect,
// after the connection joined), then it broadcasts a marker and waits until
// every client has it. Each connection's queue is first in, first out, so
// nothing queued before the marker is still pending; if a presence record
// still came after the marker (an announcement being queued while the
// marker was), it sends another, up to maxDrainMarkers. Without presence
// (own false) it only sends the marker: every client is reading, and the
// first broadcast after the connect phase is not a measured one. Clients
// whose connection ended are not waited for (the report counts them as
// disconnected). timeout bounds the wait for the announcements; each
// marker has markerTimeout.
func fanoutDrain(ctx context.Context, clients []*hubClient, tr *tracker, timeout time.Duration, own bool, send func(target string, arg int) error) (markers, ownMissing int, drained bool, err error) {
	if own && !waitUntil(ctx, timeout, settled(clients, tr, &tr.ownPresence, func(c *hubClient) bool { return c.ownPresence })) {
		for _, c := range clients {
			c.mu.Lock()
			if !c.ownPresence && !c.ended() {
				ownMissing++
			}
			c.mu.Unlock()
		}
	}
	for markers < maxDrainMarkers && ctx.Err() == nil {
		markers++
		seq := markers
		tr.drainGot.Store(0)
		if err := send(drainTarget, seq); err != nil {
			return markers, ownMissing, false, fmt.Errorf("drain marker %d: %w", seq, err)
		}
		if !waitUntil(ctx, markerTimeout, settled(clients, tr, &tr.drainGot, func(c *hubClient) bool { return c.drainSeq >= seq })) {
			return markers, ownMissing, false, nil
		}
		if presenceAfterMarker(clients) == 0 {
			return markers, ownMissing, ownMissing == 0, nil
		}
	}
	return markers, ownMissing, false, nil
}

// markerTimeout bounds the delivery of one drain marker to every client.
const markerTimeout = 30 * time.Second

// settled returns the condition "every client whose connection has not
// ended satisfies ok" (checked under the client's lock). The counter of
// the clients that satisfy it gates the scan, which runs only once the
// counter and the ended connections could add up to all.
func settled(clients []*hubClient, tr *tracker, count *atomic.Int32, ok func(*hubClient) bool) func() bool {
	n := int32(len(clients))
	return func() bool {
		if count.Load()+tr.closed.Load() < n {
			return false
		}
		for _, c := range clients {
			c.mu.Lock()
			good := ok(c)
			c.mu.Unlock()
			if !good && !c.ended() {
				return false
			}
		}
		return true
	}
}

// presenceAfterMarker sums the presence records the clients got after
// their last drain marker.
func presenceAfterMarker(clients []*hubClient) int {
	sum := 0
	for _, c := range clients {
		c.mu.Lock()
		sum += c.presenceAfter
		c.mu.Unlock()
	}
	return sum
}

// quietStack starts an emulator without upstream and a handler wired to
// it: the fan-out without the chat hub's presence announcements
// (-fanout-upstream=false). stop ends both.
func quietStack(ctx context.Context, st *stack) (q *stack, stop func(), err error) {
	s := *st
	s.emulator, s.handler, s.baseline = nil, nil, nil
	stop = func() {
		for _, p := range []*proc{s.handler, s.emulator} {
			if p != nil {
				p.stop()
			}
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if s.emPort, err = freePort(); err != nil {
		return nil, nil, err
	}
	if s.hPort, err = freePort(); err != nil {
		return nil, nil, err
	}
	s.connStr = "Endpoint=http://127.0.0.1;Port=" + strconv.Itoa(s.emPort) + ";AccessKey=" + devKey + ";Version=1.0;"
	if s.emulator, err = startProc("emulator (fan-out, no upstream)", s.emulatorPath,
		[]string{"-addr", "127.0.0.1:" + strconv.Itoa(s.emPort), "-key", devKey, "-log-level", "warn"}, baseEnv()); err != nil {
		return nil, nil, err
	}
	if err = waitReady(ctx, s.emulator, "GET", s.emBase()+"/api/health", 10*time.Second); err != nil {
		return nil, nil, err
	}
	if s.handler, err = startProc("handler (fan-out)", s.handlerPath, nil, s.handlerEnv(s.hPort)); err != nil {
		return nil, nil, err
	}
	if err = waitReady(ctx, s.handler, "GET", s.hBase()+"/", 10*time.Second); err != nil {
		return nil, nil, err
	}
	return &s, stop, nil
}

// benchFanout connects cfg.clients WebSocket clients (each negotiating
// through the handler, as a browser does), waits until the chat hub's
// presence announcements of the connect phase are delivered (with
// -fanout-upstream), times fanoutRounds single broadcasts to all of them,
// then sends a burst and checks that every client got every message once
// and in order. Broadcasts go through the handler's POST /api/broadcast.
func benchFanout(ctx context.Context, cfg config, st *stack, progress func(string)) (*fanoutReport, error) {
	extra := presenceBudget(cfg.clients, cfg.fanoutUpstream)
	ctx, cancel := context.WithTimeout(ctx, 150*time.Second+2*extra)
	defer cancel()
	r := &fanoutReport{Clients: cfg.clients, Parallelism: cfg.connPar, Burst: cfg.burst, PresenceOn: cfg.fanoutUpstream}
	if !cfg.fanoutUpstream {
		q, stop, err := quietStack(ctx, st)
		if err != nil {
			return nil, err
		}
		defer stop()
		st = q
	}
	tr := newTracker(fanoutRounds, cfg.burst)
	tr.msgpackHalf = true // every other client on MessagePack

	progress(fmt.Sprintf("connecting %d WebSocket clients, %d at a time", cfg.clients, cfg.connPar))
	wsc := &http.Client{Transport: newLoadTransport(cfg.connPar)}
	defer wsc.CloseIdleConnections()
	emPid := st.emulator.cmd.Process.Pid
	r.EmulatorRSSBefore, _ = procStatus(emPid, "VmRSS:")
	t0 := time.Now()
	clients, lat, fails, err := connectMany(ctx, wsc, st.hBase()+"/api/negotiate?negotiateVersion=1", tr, cfg.clients, cfg.connPar, 90*time.Second+extra)
	r.ConnectWall = time.Since(t0)
	defer closeAll(clients)
	r.Connected, r.ConnectFailures, r.ConnectLatency = len(clients), fails, summarize(lat)
	if err != nil {
		r.ConnectError = err.Error()
	}
	if len(clients) == 0 {
		return r, fmt.Errorf("no client connected: %v", err)
	}
	n := int32(len(clients))

	hc := &http.Client{Transport: newLoadTransport(1), Timeout: 15 * time.Second}
	defer hc.CloseIdleConnections()
	send := func(target string, arg int) error {
		return send(ctx, hc, "POST", st.hBase()+"/api/broadcast", jsonHeader,
			[]byte(`{"target":"`+target+`","arguments":[`+strconv.Itoa(arg)+`]}`), http.StatusAccepted)
	}
	if r.PresenceOn {
		progress("waiting until the presence announcements of the connect phase are delivered")
	}
	d0 := time.Now()
	r.DrainMarkers, r.OwnPresenceMissing, r.Drained, err = fanoutDrain(ctx, clients, tr, 30*time.Second+extra, r.PresenceOn, send)
	r.DrainWait = time.Since(d0)
	if err != nil {
		return r, err
	}
	// Memory once the connect phase's queues are empty.
	if rss, err := procStatus(emPid, "VmRSS:"); err == nil && r.EmulatorRSSBefore > 0 {
		r.EmulatorRSSAfter = rss
		r.PerConnBytes = (rss - r.EmulatorRSSBefore) / int64(n)
	}

	progress("single broadcasts")
	var single, singleJSON, singleMP []time.Duration
	for round := 0; round < fanoutRounds && ctx.Err() == nil; round++ {
		tr.rounds[round] = time.Now()
		if err := send("fanout", round); err != nil {
			return r, fmt.Errorf("broadcast round %d: %w", round, err)
		}
		waitUntil(ctx, 15*time.Second, func() bool { return tr.roundGot[round].Load() >= n })
		var roundMax time.Duration
		for _, c := range clients {
			c.mu.Lock()
			at := c.roundAt[round]
			c.mu.Unlock()
			if at.IsZero() {
				r.SingleLost++
				continue
			}
			d := at.Sub(tr.rounds[round])
			single = append(single, d)
			if c.msgpack {
				singleMP = append(singleMP, d)
			} else {
				singleJSON = append(singleJSON, d)
			}
			roundMax = max(roundMax, d)
		}
		r.RoundMax = append(r.RoundMax, roundMax)
	}
	r.Single = summarize(single)
	r.SingleJSON, r.SingleMsgpack = summarize(singleJSON), summarize(singleMP)
	for _, c := range clients {
		c.mu.Lock()
		if c.msgpack {
			r.ClientsMsgpack++
			r.BytesMsgpack = max(r.BytesMsgpack, c.fanoutBytes)
		} else {
			r.ClientsJSON++
			r.BytesJSON = max(r.BytesJSON, c.fanoutBytes)
		}
		c.mu.Unlock()
	}

	progress(fmt.Sprintf("burst of %d", cfg.burst))
	b0 := time.Now()
	for seq := 1; seq <= cfg.burst; seq++ {
		if err := send("burst", seq); err != nil {
			return r, fmt.Errorf("burst message %d: %w", seq, err)
		}
	}
	r.BurstSend = time.Since(b0)
	waitUntil(ctx, 30*time.Second, func() bool { return tr.burstFull.Load() >= n })
	var done []time.Duration
	var last time.Time
	for _, c := range clients {
		c.mu.Lock()
		r.BurstLost += cfg.burst - c.burstN
		r.BurstOutOrder += c.outOrder
		r.Duplicates += c.dups
		r.Unknown += c.unknown
		r.Presence += c.presence
		if r.PresenceOn {
			r.PresenceDuringMeasure += c.presenceAfter
		}
		if c.burstN == cfg.burst {
			done = append(done, c.burstLast.Sub(b0))
			if c.burstLast.After(last) {
				last = c.burstLast
			}
		}
		c.mu.Unlock()
	}
	r.BurstClient = summarize(done)
	if !last.IsZero() {
		r.BurstAll = last.Sub(b0)
	}
	r.Disconnected, r.DisconnectBy = disconnected(clients)
	return r, ctx.Err()
}

func (r *fanoutReport) failures() []string {
	var f []string
	if r.ConnectFailures > 0 {
		f = append(f, fmt.Sprintf("fan-out: %d of %d clients could not connect (%s)", r.ConnectFailures, r.Clients, r.ConnectError))
	}
	if r.SingleLost > 0 {
		f = append(f, fmt.Sprintf("fan-out: %d single-broadcast deliveries lost", r.SingleLost))
	}
	if r.BurstLost > 0 {
		f = append(f, fmt.Sprintf("fan-out: %d burst deliveries lost", r.BurstLost))
	}
	if r.BurstOutOrder > 0 {
		f = append(f, fmt.Sprintf("fan-out: %d burst messages out of order", r.BurstOutOrder))
	}
	if r.Duplicates > 0 {
		f = append(f, fmt.Sprintf("fan-out: %d duplicate deliveries", r.Duplicates))
	}
	if !r.Drained {
		f = append(f, fmt.Sprintf("fan-out: the connect phase had not drained when the measured broadcasts started (%d clients never got their own presence announcement, %d markers, not every client got the last)", r.OwnPresenceMissing, r.DrainMarkers))
	}
	if r.Disconnected > 0 {
		f = append(f, fmt.Sprintf("fan-out: %d clients disconnected (%s)", r.Disconnected, r.DisconnectBy))
	}
	return f
}

func (r *fanoutReport) print(w io.Writer) {
	fmt.Fprintf(w, "## 5. Fan-out (%d WebSocket clients on the emulator, every other one on MessagePack; each negotiated through ./handler, then the service negotiate + WebSocket + hub handshake)\n", r.Clients)
	fmt.Fprintf(w, "broadcasts sent with POST /api/broadcast on ./handler; times run from the start of the POST to the client's receipt\n\n")
	fmt.Fprintf(w, "  connect:  %d connected, %d failed, %d at a time, wall %s, per client p50 %s p99 %s max %s\n",
		r.Connected, r.ConnectFailures, r.Parallelism, ms(r.ConnectWall), ms(r.ConnectLatency.P50), ms(r.ConnectLatency.P99), ms(r.ConnectLatency.Max))
	if r.EmulatorRSSAfter > 0 {
		fmt.Fprintf(w, "  emulator memory: RSS %.1f MiB before, %.1f MiB with %d clients: %.1f KiB per connection\n",
			float64(r.EmulatorRSSBefore)/(1<<20), float64(r.EmulatorRSSAfter)/(1<<20), r.Connected, float64(r.PerConnBytes)/1024)
	}
	roundMax := ""
	for i, d := range r.RoundMax {
		if i > 0 {
			roundMax += ", "
		}
		roundMax += ms(d)
	}
	fmt.Fprintf(w, "  single broadcast × %d rounds: p50 %s  p99 %s  max %s  (slowest client per round: %s)  lost %d\n",
		len(r.RoundMax), ms(r.Single.P50), ms(r.Single.P99), ms(r.Single.Max), roundMax, r.SingleLost)
	fmt.Fprintf(w, "  per protocol      clients  p50       p99       max       bytes/message\n")
	fmt.Fprintf(w, "    JSON            %-7d  %-8s  %-8s  %-8s  %d\n", r.ClientsJSON, ms(r.SingleJSON.P50), ms(r.SingleJSON.P99), ms(r.SingleJSON.Max), r.BytesJSON)
	fmt.Fprintf(w, "    MessagePack     %-7d  %-8s  %-8s  %-8s  %d\n", r.ClientsMsgpack, ms(r.SingleMsgpack.P50), ms(r.SingleMsgpack.P99), ms(r.SingleMsgpack.Max), r.BytesMsgpack)
	fmt.Fprintf(w, "  burst of %d sequential broadcasts: sent in %s, all clients had all %d after %s (per client p50 %s, p99 %s)\n",
		r.Burst, ms(r.BurstSend), r.Burst, ms(r.BurstAll), ms(r.BurstClient.P50), ms(r.BurstClient.P99))
	fmt.Fprintf(w, "  burst lost %d, out of order %d, duplicates %d, unparsed records %d, clients disconnected %d\n",
		r.BurstLost, r.BurstOutOrder, r.Duplicates, r.Unknown, r.Disconnected)
	if !r.PresenceOn {
		fmt.Fprintf(w, "  presence: off (-fanout-upstream=false: an emulator without upstream, so no announcement of each connect); an unmeasured marker broadcast reached every client %s after the last connect: %v\n\n", ms(r.DrainWait), r.Drained)
		return
	}
	fmt.Fprintf(w, "  presence: on (the handler is the emulator's upstream; its chat hub announces each connect to everyone): %d presence events received\n", r.Presence)
	drained := "drained"
	if !r.Drained {
		drained = "NOT drained"
	}
	fmt.Fprintf(w, "  before the measured broadcasts: %s %s after the last connect (%d marker broadcasts, %d clients without their own announcement); presence events during the measured broadcasts: %d\n\n",
		drained, ms(r.DrainWait), r.DrainMarkers, r.OwnPresenceMissing, r.PresenceDuringMeasure)
}
