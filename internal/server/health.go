package server

import (
	"net/http"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

type healthBody struct {
	Status    string           `json:"status"` // healthy or unhealthy
	Endpoints []endpointHealth `json:"endpoints"`
}

type endpointHealth struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // primary or secondary
	Endpoint string `json:"endpoint"`
	Healthy  bool   `json:"healthy"`
	Breaker  string `json:"breaker"`
	// CheckedAt and AgeSeconds say when the verdict was reached and how
	// old it is; CheckedBy says whether a "probe" or a successful "call".
	CheckedAt  *time.Time `json:"checkedAt,omitempty"`
	AgeSeconds *float64   `json:"ageSeconds,omitempty"`
	CheckedBy  string     `json:"checkedBy,omitempty"`
	Error      string     `json:"error,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

// handleHealth serves the "GET /api/health" route: 200 when at least one
// endpoint is usable, else 503. It never answers from a stale verdict:
// endpoints whose verdict is older than two probe intervals (one minute
// with probes off), or unhealthy and older than a second, are probed now
// (each probe bounded by probeTimeout), and a failed or timed-out probe
// makes the answer 503 with its code and reason. Each endpoint says how old
// its verdict is.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	maxAge := 2 * s.cfg.HealthInterval
	if maxAge <= 0 {
		maxAge = time.Minute
	}
	now := time.Now()
	stale := false
	for _, e := range s.endpoints.list {
		age, ok := e.verdictAge(now)
		if !ok || age > maxAge || (!e.healthy.Load() && age > unhealthyRecheck) {
			stale = true
		}
	}
	if stale {
		s.endpoints.probeAll(r.Context())
	}
	body := healthBody{Status: "unhealthy"}
	now = time.Now()
	for _, e := range s.endpoints.list {
		h := endpointHealth{Name: e.name, Type: "primary", Endpoint: e.client.Endpoint(), Healthy: e.usable(), Breaker: e.client.BreakerState().String()}
		if age, ok := e.verdictAge(now); ok {
			t := now.Add(-age).UTC()
			sec := age.Round(time.Millisecond).Seconds()
			h.CheckedAt, h.AgeSeconds = &t, &sec
		}
		e.mu.Lock()
		h.CheckedBy, h.Error, h.Reason = e.verdictBy, e.probeErr, e.probeReason
		e.mu.Unlock()
		if !e.primary {
			h.Type = "secondary"
		}
		if h.Healthy {
			body.Status = "healthy"
		} else if h.Error == "" && h.Breaker == "open" {
			h.Error = apperr.CodeServiceCircuitOpen
		}
		body.Endpoints = append(body.Endpoints, h)
	}
	status := http.StatusOK
	if body.Status != "healthy" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}
