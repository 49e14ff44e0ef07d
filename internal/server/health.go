package server

import (
	"context"
	"net/http"
	"time"
)

type healthBody struct {
	Status    string           `json:"status"` // healthy or unhealthy
	Endpoints []endpointHealth `json:"endpoints"`
}

type endpointHealth struct {
	Name      string     `json:"name"`
	Type      string     `json:"type"` // primary or secondary
	Endpoint  string     `json:"endpoint"`
	Healthy   bool       `json:"healthy"`
	Breaker   string     `json:"breaker"`
	LastProbe *time.Time `json:"lastProbe,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// handleHealth serves the "GET /api/health" route: 200 when the handler can
// serve and at least one endpoint is healthy, else 503. Endpoints not probed
// within two probe intervals are probed now, with a short timeout.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	stale := false
	maxAge := 2 * s.cfg.HealthInterval
	if maxAge <= 0 {
		maxAge = time.Minute
	}
	for _, e := range s.endpoints.list {
		e.mu.Lock()
		if time.Since(e.lastProbe) > maxAge {
			stale = true
		}
		e.mu.Unlock()
	}
	if stale {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		s.endpoints.probeAll(ctx)
		cancel()
	}
	body := healthBody{Status: "unhealthy"}
	for _, e := range s.endpoints.list {
		e.mu.Lock()
		h := endpointHealth{Name: e.name, Type: "primary", Endpoint: e.client.Endpoint(), Healthy: e.usable(), Breaker: e.client.BreakerState().String(), Error: e.probeErr}
		if !e.lastProbe.IsZero() {
			t := e.lastProbe.UTC()
			h.LastProbe = &t
		}
		e.mu.Unlock()
		if !e.primary {
			h.Type = "secondary"
		}
		if h.Healthy {
			body.Status = "healthy"
		}
		body.Endpoints = append(body.Endpoints, h)
	}
	status := http.StatusOK
	if body.Status != "healthy" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}
