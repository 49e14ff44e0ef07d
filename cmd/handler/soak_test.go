package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The soak runs of `make soak` (SOAK=1): longer than the reliability
// suite, still loopback only and bounded (SOAK_DURATION, default 30s).
// They print their figures with t.Logf; the README quotes them.

func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	if os.Getenv("SOAK") == "" {
		t.Skip("soak run: `make soak` (SOAK=1)")
	}
	d := 30 * time.Second
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 || d > 10*time.Minute {
			t.Fatalf("SOAK_DURATION=%q: want a duration up to 10m", v)
		}
	}
	return d
}

// openFDs counts the handler's open file descriptors.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Skip("needs /proc")
	}
	return len(ents)
}

// negotiateLoop calls negotiate in a closed loop until stop and records
// each latency and failure.
type negotiateLoop struct {
	mu      sync.Mutex
	lat     []time.Duration
	failed  int
	lastErr string
}

func (l *negotiateLoop) run(base string, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		t0 := time.Now()
		resp, err := client.Post(base+"/api/negotiate?negotiateVersion=1", "", nil)
		ok := err == nil && resp.StatusCode == 200
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		l.mu.Lock()
		if ok {
			l.lat = append(l.lat, time.Since(t0))
		} else {
			l.failed++
			if err != nil {
				l.lastErr = err.Error()
			} else {
				l.lastErr = resp.Status
			}
		}
		l.mu.Unlock()
	}
}

func (l *negotiateLoop) summary() (n int, p50, p99, max time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lat) == 0 {
		return 0, 0, 0, 0
	}
	s := append([]time.Duration(nil), l.lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return len(s), s[len(s)/2], s[len(s)*99/100], s[len(s)-1]
}

// TestSoakSlowClients: waves of connections trickle broadcast bodies one
// byte every 500 ms (a slowloris) for the soak's duration, far more of them
// than HANDLER_MAX_CONNECTIONS allows, while negotiate runs in a closed loop.
// The handler must keep its descriptors near the cap, cut every slow body
// after HANDLER_READ_TIMEOUT, and keep answering negotiate.
func TestSoakSlowClients(t *testing.T) {
	d := soakDuration(t)
	svc := startFakeService(t, false)
	const maxConns = 1024
	p := startHandler(t, svc.connStr(), "HANDLER_READ_TIMEOUT=3s", "HANDLER_MAX_CONNECTIONS="+strconv.Itoa(maxConns))
	pid := p.cmd.Process.Pid
	idleFDs := openFDs(t, pid)
	idleRSS := peakRSS(t, pid)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := &negotiateLoop{}
	wg.Add(1)
	go loop.run(p.base, stop, &wg)

	var opened, cut, refused atomic.Int64
	maxFDs := 0
	slow := func() {
		defer wg.Done()
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(p.base, "http://"), 5*time.Second)
		if err != nil {
			refused.Add(1)
			return
		}
		defer c.Close()
		opened.Add(1)
		io.WriteString(c, "POST /api/broadcast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				cut.Add(1)
				return
			}
			c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if n, _ := c.Read(make([]byte, 512)); n > 0 { // the 408
				cut.Add(1)
				return
			}
		}
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for range 400 { // a wave: 400 new slow clients per second
			wg.Add(1)
			go slow()
		}
		time.Sleep(time.Second) // the load's rate against a real process: a wave per wall-clock second, no event to wait for
		maxFDs = max(maxFDs, openFDs(t, pid))
	}
	close(stop)
	wg.Wait()

	n, p50, p99, mx := loop.summary()
	rss := peakRSS(t, pid)
	t.Logf("slow clients: %d opened over %s (cap %d), %d cut by the server, %d not connected; handler fds idle %d, max %d; RSS idle %.1f MB, peak %.1f MB",
		opened.Load(), d, maxConns, cut.Load(), refused.Load(), idleFDs, maxFDs, float64(idleRSS)/1e6, float64(rss)/1e6)
	t.Logf("negotiate meanwhile: %d ok, %d failed (last: %s), p50 %s, p99 %s, max %s", n, loop.failed, loop.lastErr, p50, p99, mx)
	if maxFDs > maxConns+64 {
		t.Errorf("handler held %d descriptors, cap %d", maxFDs, maxConns)
	}
	if n == 0 || loop.failed > n/100 {
		t.Errorf("negotiate failed %d times of %d during the slowloris", loop.failed, n+loop.failed)
	}
	if cut.Load() == 0 {
		t.Error("no slow body was cut")
	}
}

// TestSoakMixed: negotiate and broadcast (single messages and 8-item
// batches) in closed loops for the soak's duration against a service that
// accepts everything; every call must succeed and the handler's memory
// must stay flat.
func TestSoakMixed(t *testing.T) {
	d := soakDuration(t)
	svc := startFakeService(t, false)
	p := startHandler(t, svc.connStr())
	pid := p.cmd.Process.Pid

	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := &negotiateLoop{}
	for range 4 {
		wg.Add(1)
		go loop.run(p.base, stop, &wg)
	}
	var sent, failed atomic.Int64
	var lastErr atomic.Value
	batch := "[" + strings.TrimSuffix(strings.Repeat(`{"target":"t","arguments":["soak"]},`, 8), ",") + "]"
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			body := `{"target":"t","arguments":[{"n":1}]}`
			if i%2 == 1 {
				body = batch
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(p.base+"/api/broadcast", "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
					lastErr.Store(resp.Status)
					continue
				}
				sent.Add(1)
			}
		}()
	}
	time.Sleep(d / 10) // the soak is a wall-clock duration of load on a real process: no event ends it
	rssEarly := currentRSS(t, pid)
	time.Sleep(d - d/10) // the rest of the soak's wall-clock duration: no event ends it
	close(stop)
	wg.Wait()
	rssEnd := currentRSS(t, pid)
	n, p50, p99, mx := loop.summary()
	t.Logf("mixed soak %s: %d broadcasts accepted (%.0f/s), %d failed (last: %v); %d negotiates (%.0f/s), %d failed, p50 %s, p99 %s, max %s; RSS after %s %.1f MB, at the end %.1f MB",
		d, sent.Load(), float64(sent.Load())/d.Seconds(), failed.Load(), lastErr.Load(), n, float64(n)/d.Seconds(), loop.failed, p50, p99, mx, d/10, float64(rssEarly)/1e6, float64(rssEnd)/1e6)
	if failed.Load() > 0 || loop.failed > 0 {
		t.Errorf("failures: %d broadcasts, %d negotiates", failed.Load(), loop.failed)
	}
	if rssEnd > 2*rssEarly+20e6 {
		t.Errorf("RSS grew from %.1f MB to %.1f MB", float64(rssEarly)/1e6, float64(rssEnd)/1e6)
	}
}

// currentRSS reads VmRSS of pid in bytes.
func currentRSS(t *testing.T, pid int) int64 { t.Helper(); return procStatus(t, pid, "VmRSS:") }
