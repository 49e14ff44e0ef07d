package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/signalr"
)

type broadcastSummary struct {
	Hub   string
	Sent  int
	Items []struct {
		Index     int
		Kind      string
		Route     string
		Status    string
		Endpoints []struct{ Name, Status, Code, Error string }
	}
	StoppedAt *int
}

func TestBroadcastInputErrors(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	big := `{"target":"t","arguments":["` + strings.Repeat("x", 1<<20) + `"]}`
	for _, tc := range []struct {
		name, body, ct, query string
		status                int
		code                  string
	}{
		{"not JSON", `{"target":`, "application/json", "", 400, "broadcast.invalid_json"},
		{"trailing garbage", `{"target":"t"} x`, "application/json", "", 400, "broadcast.invalid_json"},
		{"broken array", `[{"target":"t"},`, "application/json", "", 400, "broadcast.invalid_json"},
		{"empty", ``, "application/json", "", 400, "broadcast.empty"},
		{"empty array", `[]`, "application/json", "", 400, "broadcast.empty"},
		{"scalar", `"hello"`, "application/json", "", 400, "broadcast.invalid_json"},
		{"missing target", `{"arguments":[1]}`, "application/json", "", 400, "broadcast.missing_target"},
		{"arguments not array", `{"target":"t","arguments":{"a":1}}`, "application/json", "", 400, "broadcast.invalid_message"},
		{"wrong field type", `{"target":5}`, "application/json", "", 400, "broadcast.invalid_message"},
		{"unknown action", `{"action":"join","userId":"u","groupName":"g"}`, "application/json", "", 400, "broadcast.unknown_action"},
		{"action without id", `{"action":"add","groupName":"g"}`, "application/json", "", 400, "broadcast.missing_id"},
		{"action without group", `{"action":"add","userId":"u"}`, "application/json", "", 400, "broadcast.invalid_group"},
		{"blank group", `{"target":"t","groupName":"   "}`, "application/json", "", 400, "broadcast.invalid_group"},
		{"negative ttl", `{"action":"add","userId":"u","groupName":"g","ttl":-1}`, "application/json", "", 400, "broadcast.invalid_message"},
		{"second item bad", `[{"target":"t"},{"arguments":[]}]`, "application/json", "", 400, "broadcast.missing_target"},
		{"invalid hub", `{"target":"t"}`, "application/json", "?hub=9x", 400, "broadcast.invalid_hub"},
		{"form body", `target=t`, "application/x-www-form-urlencoded", "", 415, "request.unsupported_media_type"},
		{"over 1 MB", big, "application/json", "", 413, "broadcast.too_large"},
		{"unknown endpoint", `{"target":"t","endpoints":["nope"]}`, "application/json", "", 400, "broadcast.invalid_message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, b := do(t, "POST", h.URL+"/api/broadcast"+tc.query, tc.body, map[string]string{"Content-Type": tc.ct})
			e := wantError(t, status, b, tc.status, tc.code)
			if tc.name == "second item bad" && !strings.Contains(e.Error.Message, "item 1") {
				t.Errorf("message %q does not name the item", e.Error.Message)
			}
		})
	}
}

// TestBroadcastAppliesItemsInOrder sends a batch through the handler to the
// emulator and checks the service's state with the REST client.
func TestBroadcastAppliesItemsInOrder(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	body := `[
	  {"action":"add","userId":"ann","groupName":"room/1"},
	  {"action":"add","userId":"bob","groupName":"room/1","ttl":60},
	  {"target":"newMessage","arguments":[{"text":"hi"}],"groupName":"room/1"},
	  {"target":"newMessage","arguments":["to all"]},
	  {"Target":"newMessage","Arguments":[1],"UserId":"ann"},
	  {"action":"remove","userId":"bob","groupName":"room/1"}
	]`
	status, _, b := do(t, "POST", h.URL+"/api/broadcast", body, map[string]string{"Content-Type": "application/json"})
	if status != http.StatusAccepted {
		t.Fatalf("broadcast = %d %s", status, b)
	}
	var sum broadcastSummary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	wantRoutes := []string{"add", "add", "group", "all", "user", "remove"}
	if sum.Hub != "chat" || sum.Sent != 6 || len(sum.Items) != 6 {
		t.Fatalf("summary %s", b)
	}
	for i, it := range sum.Items {
		if it.Route != wantRoutes[i] || it.Status != "sent" || len(it.Endpoints) != 1 || it.Endpoints[0].Status != "ok" {
			t.Errorf("item %d = %+v", i, it)
		}
	}
	c, err := signalr.NewClientFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r, err := c.UserInGroup(ctx, "chat", "room/1", "ann", nil); err != nil || !r.InGroup {
		t.Errorf("ann in room/1 = %v, %v", r.InGroup, err)
	}
	if r, err := c.UserInGroup(ctx, "chat", "room/1", "bob", nil); err != nil || r.InGroup {
		t.Errorf("bob in room/1 after remove = %v, %v", r.InGroup, err)
	}
}

// TestBroadcastServiceDown maps an unreachable service to 502 with the
// summary of what was not sent.
func TestBroadcastServiceDown(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	cs := "Endpoint=http://127.0.0.1;Port=" + strconv.Itoa(port) + ";AccessKey=" + devKey + ";Version=1.0;"
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	start := time.Now()
	status, _, b := do(t, "POST", h.URL+"/api/broadcast", `[{"target":"a"},{"target":"b"}]`, map[string]string{"Content-Type": "application/json"})
	wantError(t, status, b, http.StatusBadGateway, "service.unreachable")
	var out struct{ Result broadcastSummary }
	json.Unmarshal(b, &out)
	if out.Result.Sent != 0 || out.Result.StoppedAt == nil || *out.Result.StoppedAt != 0 ||
		out.Result.Items[0].Status != "failed" || out.Result.Items[1].Status != "notAttempted" {
		t.Errorf("summary %s", b)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("broadcast to a dead endpoint took %s; retries must be bounded", d)
	}
}

// TestNegotiateDoesNotWaitOnREST checks the bulkhead: while broadcasts hang
// on a service that never answers, negotiate still answers.
func TestNegotiateDoesNotWaitOnREST(t *testing.T) {
	t.Parallel()
	cs, arrived := hangingService(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "SIGNALR_REST_TIMEOUT": "3s"})
	done := make(chan int, 4)
	for range 4 {
		go func() {
			status, _, _ := do(t, "POST", h.URL+"/api/broadcast", `{"target":"t"}`, map[string]string{"Content-Type": "application/json"})
			done <- status
		}()
	}
	for range 4 {
		<-arrived // the broadcasts are now waiting on the service
	}
	for range 20 {
		status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", nil)
		if status != 200 {
			t.Fatalf("negotiate during a REST hang = %d %s", status, b)
		}
	}
	select {
	case s := <-done:
		t.Fatalf("a broadcast finished (%d) before the negotiates: the hang did not hold", s)
	default:
	}
	for range 4 {
		if s := <-done; s != http.StatusGatewayTimeout {
			t.Errorf("hung broadcast = %d, want 504 service.timeout", s)
		}
	}
}

// TestMultipleEndpoints: negotiate avoids an unhealthy primary, broadcast
// goes to every endpoint and reports each, and /api/health summarises.
func TestMultipleEndpoints(t *testing.T) {
	t.Parallel()
	csA, _, _ := startEmulator(t)
	csB, _, _ := startEmulator(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "Endpoint=http://127.0.0.1;Port=" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + ";AccessKey=" + devKey + ";Version=1.0;"
	ln.Close()
	h := newHandler(t, map[string]string{
		"Azure__SignalR__Endpoints__east":            csA,
		"Azure__SignalR__Endpoints__dead__primary":   dead,
		"Azure__SignalR__Endpoints__west__secondary": csB,
		"SIGNALR_HEALTH_INTERVAL":                    "1s",
	})
	// /api/health probes at once (nothing probed yet) and reports each endpoint.
	status, _, b := do(t, "GET", h.URL+"/api/health", "", nil)
	var health struct {
		Status    string
		Endpoints []struct {
			Name, Type, Endpoint, Breaker string
			Healthy                       bool
		}
	}
	json.Unmarshal(b, &health)
	if status != 200 || health.Status != "healthy" || len(health.Endpoints) != 3 {
		t.Fatalf("health = %d %s", status, b)
	}
	for _, e := range health.Endpoints {
		if (e.Name == "dead") == e.Healthy {
			t.Errorf("endpoint %s healthy=%v", e.Name, e.Healthy)
		}
	}
	if strings.Contains(string(b), devKey) {
		t.Error("health leaks the key")
	}
	hostA := strings.TrimPrefix(strings.Split(csA, ";")[0], "Endpoint=") + ":" + strings.TrimPrefix(strings.Split(csA, ";")[1], "Port=")
	for range 20 {
		status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", nil)
		var r negotiateResp
		json.Unmarshal(b, &r)
		if status != 200 || !strings.HasPrefix(r.URL, hostA+"/") {
			t.Fatalf("negotiate chose %q (%d); want the only healthy primary %s", r.URL, status, hostA)
		}
	}
	status, _, b = do(t, "POST", h.URL+"/api/broadcast", `{"target":"t","arguments":[]}`, map[string]string{"Content-Type": "application/json"})
	var out struct{ Result broadcastSummary }
	json.Unmarshal(b, &out)
	// The dead endpoint is unreachable (502) or, after the health probes'
	// failures, behind an open circuit breaker (503).
	if (status != http.StatusBadGateway && status != http.StatusServiceUnavailable) || len(out.Result.Items) != 1 || len(out.Result.Items[0].Endpoints) != 3 {
		t.Fatalf("broadcast = %d %s", status, b)
	}
	for _, e := range out.Result.Items[0].Endpoints {
		if (e.Name == "dead") != (e.Status == "failed") {
			t.Errorf("endpoint result %+v", e)
		}
	}
	// Restricting the item to the healthy endpoints succeeds.
	status, _, b = do(t, "POST", h.URL+"/api/broadcast", `{"target":"t","endpoints":["east","west"]}`, map[string]string{"Content-Type": "application/json"})
	if status != http.StatusAccepted {
		t.Errorf("broadcast to east,west = %d %s", status, b)
	}
}

func TestHealthUnhealthy(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "Endpoint=http://127.0.0.1;Port=" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + ";AccessKey=" + devKey + ";Version=1.0;"
	ln.Close()
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": dead})
	status, _, b := do(t, "GET", h.URL+"/api/health", "", nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(b), `"unhealthy"`) {
		t.Errorf("health with a dead endpoint = %d %s", status, b)
	}
}

// hangingService is a service that accepts every request and never
// answers (until the test ends); it returns its connection string and a
// channel that receives once per request it holds.
func hangingService(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	hang := make(chan struct{})
	arrived := make(chan struct{}, 64)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); svc.Close() })
	return "Endpoint=" + svc.URL + ";AccessKey=" + devKey + ";Version=1.0;", arrived
}

// TestOverloadSheddingPerFunction: beyond HANDLER_MAX_IN_FLIGHT, broadcasts
// are refused at once with 503 request.overloaded, while negotiate (its own
// bulkhead) keeps answering.
func TestOverloadSheddingPerFunction(t *testing.T) {
	t.Parallel()
	cs, arrived := hangingService(t)
	h := newHandler(t, map[string]string{
		"AzureSignalRConnectionString": cs,
		"HANDLER_MAX_IN_FLIGHT":        "2",
		"SIGNALR_REST_TIMEOUT":         "3s",
	})
	done := make(chan int, 2)
	for range 2 {
		go func() {
			status, _, _ := do(t, "POST", h.URL+"/api/broadcast", `{"target":"t"}`, map[string]string{"Content-Type": "application/json"})
			done <- status
		}()
	}
	<-arrived // both broadcasts now hold a slot: they reached the service
	<-arrived
	status, hdr, b := do(t, "POST", h.URL+"/api/broadcast", `{"target":"t"}`, map[string]string{"Content-Type": "application/json"})
	wantError(t, status, b, http.StatusServiceUnavailable, "request.overloaded")
	if hdr.Get("Retry-After") == "" {
		t.Error("no Retry-After on the overload answer")
	}
	for range 5 {
		if status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", nil); status != 200 {
			t.Fatalf("negotiate while broadcasts are saturated = %d %s", status, b)
		}
	}
	<-done
	<-done
}

// TestBroadcastAuthorization: BROADCAST_REQUIRE_AUTH and
// BROADCAST_REQUIRED_ROLE add an identity check on top of the function key.
func TestBroadcastAuthorization(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{
		"AzureSignalRConnectionString": cs,
		"AUTH_JWT_SECRET":              jwtSecret,
		"BROADCAST_REQUIRE_AUTH":       "true",
		"BROADCAST_REQUIRED_ROLE":      "broadcaster",
	})
	send := func(tok string) (int, []byte) {
		hdr := map[string]string{"Content-Type": "application/json"}
		if tok != "" {
			hdr["Authorization"] = "Bearer " + tok
		}
		status, _, b := do(t, "POST", h.URL+"/api/broadcast", `{"target":"t"}`, hdr)
		return status, b
	}
	exp := time.Now().Add(time.Hour).Unix()
	status, b := send("")
	wantError(t, status, b, http.StatusUnauthorized, "broadcast.unauthenticated")
	status, b = send(bearer(t, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(-time.Hour).Unix()}))
	wantError(t, status, b, http.StatusUnauthorized, "auth.token_expired")
	status, b = send(bearer(t, jwt.MapClaims{"sub": "u", "role": "reader", "exp": exp}))
	if e := wantError(t, status, b, http.StatusForbidden, "auth.forbidden"); !strings.Contains(e.Error.Message, "broadcaster") {
		t.Errorf("message %q does not name the role", e.Error.Message)
	}
	if status, b = send(bearer(t, jwt.MapClaims{"sub": "u", "role": []string{"reader", "broadcaster"}, "exp": exp})); status != http.StatusAccepted {
		t.Errorf("caller with the role = %d %s", status, b)
	}
	// Negotiate is unaffected: anonymous is still allowed there.
	if status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", nil); status != 200 {
		t.Errorf("negotiate = %d %s", status, b)
	}
}

// TestBroadcastTimeoutAfterSentIsOutcomeUnknown (issue 13 item 5): a send
// that timed out after the request was written may have been delivered:
// 504 service.outcome_unknown, a hint that says so and never "Retry", and
// exactly one request reached the service.
func TestBroadcastTimeoutAfterSentIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	cs, arrived := hangingService(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "SIGNALR_REST_TIMEOUT": "200ms"})
	status, _, b := do(t, "POST", h.URL+"/api/broadcast", `{"target":"t","arguments":[1]}`, map[string]string{"Content-Type": "application/json"})
	e := wantError(t, status, b, http.StatusGatewayTimeout, "service.outcome_unknown")
	if strings.Contains(e.Error.Hint, "Retry") || !strings.Contains(e.Error.Hint, "twice") || !strings.Contains(e.Error.Message, "after the request was sent") {
		t.Errorf("error = %+v", e.Error)
	}
	if n := len(arrived); n != 1 {
		t.Errorf("the service received %d sends, want exactly 1", n)
	}
}
