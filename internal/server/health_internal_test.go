package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// fakeService is an in-memory Azure SignalR Service for tests inside a
// synctest bubble: it answers health probes and sends as its mode says,
// and counts the probes.
type fakeService struct {
	mode   atomic.Int32 // svcUp, svcFailing or svcHung
	probes atomic.Int32
	sends  atomic.Int32
}

const (
	svcUp int32 = iota
	svcFailing
	svcHung
)

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/health" {
		f.probes.Add(1)
	} else {
		f.sends.Add(1)
	}
	switch f.mode.Load() {
	case svcHung:
		<-r.Context().Done() // until the try times out
	case svcFailing:
		w.WriteHeader(http.StatusInternalServerError)
	default:
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

// memServer is the handler with one endpoint served by svc in memory and
// background probes off, as in the reports of issue 13.
func memServer(t *testing.T, svc *fakeService) *Server {
	t.Helper()
	cfg := testConfig()
	cfg.HealthInterval = 0
	env := []string{"AzureSignalRConnectionString=Endpoint=http://127.0.0.1;Port=1;AccessKey=" + strings.Repeat("k", 44) + ";Version=1.0;"}
	cc := &clientConfig{ClientOptions: signalr.ClientOptions{Logger: slog.New(slog.DiscardHandler)}}
	cc.Transport = testutil.HandlerTransport{H: svc}
	s, err := newServer(cfg, slog.New(slog.DiscardHandler), env, cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type healthAnswer struct {
	Status    string
	Endpoints []endpointHealth
}

func getHealth(t *testing.T, s *Server) (int, healthAnswer) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
	var h healthAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil || len(h.Endpoints) != 1 {
		t.Fatalf("health body %s: %v", rec.Body, err)
	}
	return rec.Code, h
}

func broadcast(t *testing.T, s *Server) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/broadcast", strings.NewReader(`{"target":"t","arguments":[1]}`))
	req.Header.Set("Content-Type", "application/json")
	s.ServeHTTP(rec, req)
	var b struct{ Error struct{ Code, Hint string } }
	json.Unmarshal(rec.Body.Bytes(), &b)
	return rec.Code, b.Error.Code
}

// TestHealthNeverStale (issue 13 item 3): with probes off, a hung service
// makes /api/health answer 503 with the timeout as the reason (not the old
// "healthy"), the answer says how old the verdict is, and a recovery is
// seen within a second, or at once after a successful REST call.
func TestHealthNeverStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &fakeService{}
		s := memServer(t, svc)

		svc.mode.Store(svcHung)
		start := time.Now()
		status, h := getHealth(t, s)
		e := h.Endpoints[0]
		if status != http.StatusServiceUnavailable || h.Status != "unhealthy" || e.Healthy || e.Error != "service.timeout" || e.Reason == "" {
			t.Fatalf("health of a hung service = %d %+v", status, h)
		}
		if d := time.Since(start); d > probeTimeout {
			t.Errorf("answered after %v, want within the probe timeout %v", d, probeTimeout)
		}
		if e.AgeSeconds == nil || *e.AgeSeconds != 0 || e.CheckedBy != "probe" || e.CheckedAt == nil {
			t.Errorf("verdict age = %v by %q at %v, want a fresh probe", e.AgeSeconds, e.CheckedBy, e.CheckedAt)
		}

		// Half a second later the unhealthy verdict is reported with its age,
		// without probing again.
		svc.mode.Store(svcUp)
		time.Sleep(500 * time.Millisecond) // the bubble's clock: no real wait
		before := svc.probes.Load()
		status, h = getHealth(t, s)
		if status != http.StatusServiceUnavailable || *h.Endpoints[0].AgeSeconds != 0.5 || svc.probes.Load() != before {
			t.Fatalf("0.5s later = %d %+v (probes %d→%d)", status, h, before, svc.probes.Load())
		}
		// A second after the failed probe, the service is probed again.
		time.Sleep(600 * time.Millisecond) // the bubble's clock
		if status, h = getHealth(t, s); status != http.StatusOK || !h.Endpoints[0].Healthy {
			t.Fatalf("after recovery = %d %+v", status, h)
		}

		// A successful REST call ends an unhealthy verdict at once.
		svc.mode.Store(svcFailing)
		time.Sleep(2 * time.Minute) // the bubble's clock: the healthy verdict is stale now
		if status, _ = getHealth(t, s); status != http.StatusServiceUnavailable {
			t.Fatalf("failing service: health %d", status)
		}
		svc.mode.Store(svcUp)
		if status, _ := broadcast(t, s); status != http.StatusAccepted {
			t.Fatalf("broadcast after recovery = %d", status)
		}
		before = svc.probes.Load()
		status, h = getHealth(t, s)
		if status != http.StatusOK || h.Endpoints[0].CheckedBy != "call" || svc.probes.Load() != before {
			t.Errorf("after a successful broadcast = %d %+v (probes %d→%d)", status, h, before, svc.probes.Load())
		}
	})
}

// TestBroadcastsResumeAfterRecovery (issue 13 item 4): once the breaker
// has opened, broadcasts resume within 5 s of the service's recovery on
// their own, and at once after a successful health probe.
func TestBroadcastsResumeAfterRecovery(t *testing.T) {
	for _, probe := range []bool{false, true} {
		t.Run(map[bool]string{false: "half-open", true: "health probe"}[probe], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := &fakeService{}
				s := memServer(t, svc)
				svc.mode.Store(svcFailing)
				open := false
				for range 300 { // a minute of failing broadcasts
					time.Sleep(200 * time.Millisecond) // the bubble's clock
					if _, code := broadcast(t, s); code == "service.circuit_open" {
						open = true
					}
				}
				if !open {
					t.Fatal("the breaker never opened")
				}
				svc.mode.Store(svcUp)
				recovered := time.Now()
				if probe {
					if status, _ := getHealth(t, s); status != http.StatusOK {
						t.Fatalf("health after recovery = %d", status)
					}
					if status, code := broadcast(t, s); status != http.StatusAccepted {
						t.Fatalf("broadcast right after a good probe = %d %s", status, code)
					}
					return
				}
				for {
					status, _ := broadcast(t, s)
					if status == http.StatusAccepted {
						break
					}
					time.Sleep(200 * time.Millisecond) // the bubble's clock: a caller retrying every 200 ms
				}
				if d := time.Since(recovered); d > 5*time.Second {
					t.Errorf("broadcasts resumed %v after the recovery, want within 5s", d)
				}
			})
		})
	}
}

// TestFailingSendIsOutcomeUnknown (issue 13 item 5, status part): a send
// the service answered 500 may have been delivered: its code says so and
// its hint never says to retry.
func TestFailingSendIsOutcomeUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &fakeService{}
		svc.mode.Store(svcFailing)
		s := memServer(t, svc)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/broadcast", strings.NewReader(`{"target":"t"}`))
		req.Header.Set("Content-Type", "application/json")
		s.ServeHTTP(rec, req)
		var b struct{ Error struct{ Code, Hint string } }
		json.Unmarshal(rec.Body.Bytes(), &b)
		if rec.Code != http.StatusGatewayTimeout || b.Error.Code != "service.outcome_unknown" || strings.Contains(b.Error.Hint, "Retry") || !strings.Contains(b.Error.Hint, "twice") {
			t.Errorf("broadcast answered 500 by the service = %d %+v", rec.Code, b.Error)
		}
		if n := svc.sends.Load(); n != 1 {
			t.Errorf("the service got %d sends, want 1 (never retried)", n)
		}
	})
}
