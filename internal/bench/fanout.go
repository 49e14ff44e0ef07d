package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
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
	// Presence counts the chat hub's presence events the clients got (the
	// emulator runs with the handler as its upstream: every connect is
	// announced to every connected client, n(n-1)/2 records for n clients).
	Presence     int    `json:"presence_events"`
	Disconnected int    `json:"disconnected"`
	DisconnectBy string `json:"disconnect_reason,omitempty"`
}

// benchFanout connects cfg.clients WebSocket clients (each negotiating
// through the handler, as a browser does), times fanoutRounds single
// broadcasts to all of them, then sends a burst and checks that every
// client got every message once and in order. Broadcasts go through the
// handler's POST /api/broadcast.
func benchFanout(ctx context.Context, cfg config, st *stack, progress func(string)) (*fanoutReport, error) {
	ctx, cancel := context.WithTimeout(ctx, 150*time.Second)
	defer cancel()
	r := &fanoutReport{Clients: cfg.clients, Parallelism: cfg.connPar, Burst: cfg.burst}
	tr := newTracker(fanoutRounds, cfg.burst)
	tr.msgpackHalf = true // every other client on MessagePack

	progress(fmt.Sprintf("connecting %d WebSocket clients, %d at a time", cfg.clients, cfg.connPar))
	wsc := &http.Client{Transport: newLoadTransport(cfg.connPar)}
	defer wsc.CloseIdleConnections()
	emPid := st.emulator.cmd.Process.Pid
	r.EmulatorRSSBefore, _ = procStatus(emPid, "VmRSS:")
	t0 := time.Now()
	clients, lat, fails, err := connectMany(ctx, wsc, st.hBase()+"/api/negotiate?negotiateVersion=1", tr, cfg.clients, cfg.connPar, 90*time.Second)
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
	if rss, err := procStatus(emPid, "VmRSS:"); err == nil && r.EmulatorRSSBefore > 0 {
		r.EmulatorRSSAfter = rss
		r.PerConnBytes = (rss - r.EmulatorRSSBefore) / int64(n)
	}

	hc := &http.Client{Transport: newLoadTransport(1), Timeout: 15 * time.Second}
	defer hc.CloseIdleConnections()
	send := func(target string, arg int) error {
		return httpOp(hc, "POST", st.hBase()+"/api/broadcast", "application/json",
			[]byte(`{"target":"`+target+`","arguments":[`+strconv.Itoa(arg)+`]}`), http.StatusAccepted)(ctx)
	}

	progress("single broadcasts")
	var single, singleJSON, singleMP []time.Duration
	for round := 0; round < fanoutRounds && ctx.Err() == nil; round++ {
		time.Sleep(200 * time.Millisecond) // let the previous round's writes settle
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
	time.Sleep(200 * time.Millisecond)
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
	fmt.Fprintf(w, "  presence events received while connecting (the chat hub announces each connect to everyone): %d\n\n", r.Presence)
}
