package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestForwardedRoutesMatchAsTheHostDoes: the Functions host matches a route
// ignoring case and a trailing slash and forwards the caller's path as is,
// so the handler must serve those paths too; anything else stays a 404
// whose hint is true (no claim that routes are case-sensitive).
func TestForwardedRoutesMatchAsTheHostDoes(t *testing.T) {
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/api/negotiate", 200},
		{"POST", "/API/Negotiate", 200},
		{"POST", "/api/negotiate/", 200},
		{"POST", "/Api/NEGOTIATE/", 200},
		{"GET", "/api/Health/", 200},
		{"GET", "/API/HEALTH", 200},
		{"GET", "/api/Broadcast/", 405}, // matched, then the method is refused
		{"POST", "/api/negotiatex", 404},
		{"POST", "/api/", 404},
		{"POST", "/api", 404},
		{"POST", "/negotiate/", 404}, // the envelope path is exact, as the host sends it
	} {
		status, _, b := do(t, tc.method, h.URL+tc.path, "", nil)
		if status != tc.status {
			t.Errorf("%s %s = %d, want %d: %s", tc.method, tc.path, status, tc.status, b)
			continue
		}
		if tc.status == 200 && tc.method == "POST" && !strings.Contains(string(b), `"accessToken"`) {
			t.Errorf("%s %s: not a negotiate answer: %s", tc.method, tc.path, b)
		}
		if tc.status == 404 {
			e := wantError(t, status, b, http.StatusNotFound, "request.route_not_found")
			if strings.Contains(strings.ToLower(e.Error.Hint), "case") {
				t.Errorf("%s: hint claims something about case: %q", tc.path, e.Error.Hint)
			}
		}
	}
	// A doubled /negotiate, with or without the trailing slash, is named.
	for _, p := range []string{"/api/negotiate/negotiate", "/API/Negotiate/negotiate/"} {
		status, _, b := do(t, "POST", h.URL+p, "", nil)
		if e := wantError(t, status, b, 404, "request.route_not_found"); !strings.Contains(e.Error.Hint, "twice") {
			t.Errorf("%s: hint %q does not name the doubled /negotiate", p, e.Error.Hint)
		}
	}
}

// TestBodyLimitsFollowTheFunctions: the shared body check refuses by
// Content-Length only above each function's own limit (upstream messages
// from the service reach 1 MiB), never below it.
func TestBodyLimitsFollowTheFunctions(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	big := `{"x":"` + strings.Repeat("a", 500_000) + `"}`
	for _, path := range []string{"/api/upstream", "/api/broadcast", "/api/invoke"} {
		status, _, b := do(t, "POST", h.URL+path, big, map[string]string{"Content-Type": "application/json"})
		if status == http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with 500 kB = 413: %.200s", path, b)
		}
	}
	status, _, b := do(t, "POST", h.URL+"/api/negotiate", big, nil)
	wantError(t, status, b, http.StatusRequestEntityTooLarge, "request.body_too_large")
}
