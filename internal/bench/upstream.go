package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Rounds of the upstream section: warm-up rounds are not counted.
const (
	upstreamWarmup = 30
	upstreamRounds = 400
)

// upstreamReport is the two-way round trip: a client invoke → the emulator
// → the handler's /api/upstream → the completion back to the client, beside
// a plain broadcast's delivery (POST /api/broadcast → the same client), one
// at a time (unloaded), alternating.
type upstreamReport struct {
	Rounds int `json:"rounds"`
	// Unknown is invoke of a method the hub lacks: the upstream hop alone
	// (an error completion, no REST call).
	Unknown latencySummary `json:"invoke_unknown_method"`
	// SendMessage is invoke("sendMessage"): the hop plus the hub's REST
	// send to every connection, answered when the send is accepted.
	SendMessage latencySummary `json:"invoke_send_message"`
	// Broadcast is POST /api/broadcast until the client has the message.
	Broadcast latencySummary `json:"broadcast_delivery"`
	Failures  int            `json:"failures"`
	FirstErr  string         `json:"first_error,omitempty"`
}

// upClient is one JSON-protocol WebSocket client of the emulator.
type upClient struct {
	ws   *websocket.Conn
	recs chan map[string]any
}

// dialUpstreamClient connects one JSON client through the handler's
// negotiate (dialHub) and queues every record it receives.
func dialUpstreamClient(ctx context.Context, hc *http.Client, handlerBase string) (*upClient, error) {
	c, rest, err := dialHub(ctx, hc, handlerBase+"/api/negotiate?negotiateVersion=1", false)
	if err != nil {
		return nil, err
	}
	uc := &upClient{ws: c, recs: make(chan map[string]any, 1024)}
	go func() {
		defer close(uc.recs)
		for data := rest; ; {
			for _, rec := range bytes.Split(data, []byte{recordSep}) {
				var m map[string]any
				if len(rec) > 0 && json.Unmarshal(rec, &m) == nil {
					uc.recs <- m
				}
			}
			var err error
			if _, data, err = c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return uc, nil
}

// await returns when a record satisfying pred arrives.
func (c *upClient) await(ctx context.Context, pred func(map[string]any) bool) error {
	for {
		select {
		case m, ok := <-c.recs:
			if !ok {
				return fmt.Errorf("the client's connection ended")
			}
			if pred(m) {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func benchUpstream(ctx context.Context, cfg config, st *stack, progress func(string)) (*upstreamReport, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	c, err := dialUpstreamClient(ctx, hc, st.hBase())
	if err != nil {
		return nil, err
	}
	defer c.ws.CloseNow()
	r := &upstreamReport{Rounds: upstreamRounds}
	fail := func(err error) {
		r.Failures++
		if r.FirstErr == "" {
			r.FirstErr = err.Error()
		}
	}
	invoke := func(n int, target, args string) (time.Duration, error) {
		id := strconv.Itoa(n)
		t0 := time.Now()
		msg := `{"type":1,"invocationId":"` + id + `","target":"` + target + `","arguments":` + args + `}` + "\x1e"
		if err := c.ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return 0, err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := c.await(rctx, func(m map[string]any) bool { return m["type"] == float64(3) && m["invocationId"] == id })
		return time.Since(t0), err
	}
	broadcast := func(n int) (time.Duration, error) {
		t0 := time.Now()
		body := `{"target":"benchPing","arguments":[` + strconv.Itoa(n) + `]}`
		req, _ := http.NewRequestWithContext(ctx, "POST", st.hBase()+"/api/broadcast", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("broadcast answered %d", resp.StatusCode)
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err = c.await(rctx, func(m map[string]any) bool {
			args, _ := m["arguments"].([]any)
			return m["target"] == "benchPing" && len(args) == 1 && args[0] == float64(n)
		})
		return time.Since(t0), err
	}
	progress(fmt.Sprintf("upstream: %d rounds of invoke (unknown method, sendMessage) and broadcast, one at a time", upstreamRounds))
	var unknown, send, bc []time.Duration
	n := 0
	for i := range upstreamWarmup + upstreamRounds {
		for k, f := range []func() (time.Duration, error){
			func() (time.Duration, error) { n++; return invoke(n, "benchNoSuchMethod", "[]") },
			func() (time.Duration, error) { n++; return invoke(n, "sendMessage", `["bench"]`) },
			func() (time.Duration, error) { n++; return broadcast(n) },
		} {
			d, err := f()
			if err != nil {
				fail(err)
				continue
			}
			if i < upstreamWarmup {
				continue
			}
			switch k {
			case 0:
				unknown = append(unknown, d)
			case 1:
				send = append(send, d)
			default:
				bc = append(bc, d)
			}
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
	}
	r.Unknown, r.SendMessage, r.Broadcast = summarize(unknown), summarize(send), summarize(bc)
	return r, nil
}

func (r *upstreamReport) failures() []string {
	if r.Failures > 0 {
		return []string{fmt.Sprintf("upstream: %d round trips failed (first: %s)", r.Failures, r.FirstErr)}
	}
	return nil
}

func (r *upstreamReport) print(w io.Writer) {
	fmt.Fprintf(w, "## Upstream round trip (client invoke → emulator → handler /api/upstream → completion), %d rounds, unloaded\n", r.Rounds)
	row := func(name string, s latencySummary) {
		fmt.Fprintf(w, "%-48s p50 %s  p99 %s\n", name, ms(s.P50), ms(s.P99))
	}
	row("invoke, unknown method (the upstream hop alone)", r.Unknown)
	row("invoke sendMessage (hop + the hub's REST send)", r.SendMessage)
	row("baseline: POST /api/broadcast → delivery", r.Broadcast)
	if r.Broadcast.P50 > 0 {
		fmt.Fprintf(w, "sendMessage p50 / broadcast p50: %s; round trip p50 ≤ 2 ms (sendMessage): %s\n",
			trimFloat(float64(r.SendMessage.P50)/float64(r.Broadcast.P50), 2), verdict(r.SendMessage.P50 <= 2*time.Millisecond))
	}
	if r.Failures > 0 {
		fmt.Fprintf(w, "FAILURES: %d (first: %s)\n", r.Failures, r.FirstErr)
	}
	fmt.Fprintln(w)
}
