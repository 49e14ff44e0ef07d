package emulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/emulator"
)

func TestRESTStatusCodes(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("chat", "alice", false)
	v1Accepted := map[string]bool{
		"PUT /groups/g1/connections/" + a.id: true, "DELETE /groups/g1/connections/" + a.id: true,
		"PUT /users/alice/groups/g2": true, "PUT /groups/g3/users/alice": true, "DELETE /groups/g3/users/alice": true,
		"DELETE /users/alice/groups/g2": true, "DELETE /users/alice/groups": true,
	}
	msg := `{"target":"m","arguments":[1]}`
	for _, prefix := range []string{"/api/hubs/chat", "/api/v1/hubs/chat"} {
		q := apiV
		if strings.Contains(prefix, "/v1/") {
			q = ""
		}
		cases := []struct {
			method, path, query, body string
			status                    int
			code                      string
		}{
			{"POST", "/:send", "", msg, 202, ""},
			{"POST", "", "", msg, 202, ""}, // v1 broadcast
			{"POST", "/users/alice/:send", "", msg, 202, ""},
			{"POST", "/users/alice", "", msg, 202, ""}, // v1 send to user
			{"POST", "/connections/" + a.id + "/:send", "", msg, 202, ""},
			{"POST", "/connections/" + a.id, "", msg, 202, ""},
			{"POST", "/groups/g1/:send", "", msg, 202, ""},
			{"POST", "/groups/g1", "", msg, 202, ""},
			{"HEAD", "/connections/" + a.id, "", "", 200, ""},
			{"GET", "/connections/" + a.id, "", "", 200, ""},
			{"HEAD", "/connections/nope", "", "", 404, "Warning.Connection.NotExisted"},
			{"HEAD", "/users/alice", "", "", 200, ""},
			{"GET", "/users/nobody", "", "", 404, "Warning.User.NotExisted"},
			{"HEAD", "/groups/g1", "", "", 404, "Warning.Group.NotExisted"},
			{"PUT", "/groups/g1/connections/" + a.id, "", "", 200, ""},
			{"HEAD", "/groups/g1", "", "", 200, ""},
			{"PUT", "/groups/g1/connections/nope", "", "", 404, "Error.Connection.NotExisted"},
			{"DELETE", "/groups/g1/connections/" + a.id, "", "", 200, ""},
			{"DELETE", "/connections/" + a.id + "/groups", "", "", 200, ""},
			{"PUT", "/users/alice/groups/g2", "ttl=30", "", 200, ""},
			{"HEAD", "/users/alice/groups/g2", "", "", 200, ""},
			{"HEAD", "/users/alice/groups/g3", "", "", 404, "Info.User.NotInGroup"},
			{"PUT", "/groups/g3/users/alice", "", "", 200, ""}, // v1 shape
			{"GET", "/groups/g3/users/alice", "", "", 200, ""},
			{"DELETE", "/groups/g3/users/alice", "", "", 204, ""},
			{"DELETE", "/users/alice/groups/g2", "", "", 204, ""},
			{"DELETE", "/users/alice/groups", "", "", 204, ""},
			{"POST", "/users/bob/:closeConnections", "reason=x", "", 204, ""},
			{"POST", "/groups/g9/:closeConnections", "", "", 204, ""},
			{"POST", "/:closeConnections", "excluded=" + a.id, "", 204, ""},
			{"DELETE", "/connections/nope", "reason=x", "", 404, "Warning.Connection.NotExisted"},
			{"POST", "/:send", "", `{"arguments":[]}`, 400, "Error.InvalidRequest"},
			{"POST", "/:send", "", `{"target":""}`, 400, "Error.InvalidRequest"},
			{"POST", "/:send", "", `[1,2]`, 400, "Error.InvalidRequest"},
			{"POST", "/:send", "", `{"target":"m","arguments":{}}`, 400, "Error.InvalidRequest"},
			{"PATCH", "/:send", "", msg, 405, "Error.MethodNotAllowed"},
			{"POST", "/nothing/here", "", msg, 404, "Error.NotFound"},
		}
		for _, c := range cases {
			query := q
			if c.query != "" {
				if query != "" {
					query += "&"
				}
				query += c.query
			}
			r := e.rest(c.method, prefix+c.path, query, c.body)
			if q == "" && c.status != 202 && v1Accepted[c.method+" "+c.path] {
				// The v1 API answers 202 for membership changes
				// (docs/swagger/v1.json).
				c.status = 202
			}
			if r.status != c.status || r.header.Get("x-ms-error-code") != c.code {
				t.Errorf("%s %s%s?%s: status %d code %q, want %d %q (body %s)", c.method, prefix, c.path, query, r.status, r.header.Get("x-ms-error-code"), c.status, c.code, r.body)
			}
			if c.code != "" && c.method != "HEAD" {
				if d := r.errorDetail(t); d.Message == "" {
					t.Errorf("%s %s: empty message", c.method, c.path)
				}
			}
		}
	}
	// Health needs no token.
	for _, p := range []string{"/api/health", "/api/v1/health"} {
		for _, m := range []string{"HEAD", "GET"} {
			if r := e.restWithToken(m, p, "", "", ""); r.status != 200 {
				t.Errorf("%s %s: %d", m, p, r.status)
			}
		}
	}
	// Invalid hub names.
	r := e.rest("POST", "/api/hubs/1chat/:send", apiV, msg)
	if r.status != 400 || r.errorDetail(t).Code != "Error.InvalidHubName" {
		t.Errorf("invalid hub: %d %s", r.status, r.body)
	}
}

func TestRESTPathEscaping(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	u := e.connect("chat", "a b/c", false)
	// .NET Uri.EscapeDataString: space → %20, / → %2F.
	userPath := "/api/hubs/chat/users/a%20b%2Fc"
	if r := e.rest("HEAD", userPath, apiV, ""); r.status != 200 {
		t.Fatalf("user exists: %d %s", r.status, r.body)
	}
	if r := e.rest("PUT", "/api/hubs/chat/groups/a%2Fb/connections/"+u.id, apiV, ""); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	if r := e.rest("POST", "/api/hubs/chat/groups/a%2Fb/:send", apiV, `{"target":"m","arguments":["slash"]}`); r.status != 202 {
		t.Fatalf("send: %d", r.status)
	}
	u.expectInvocation("m", `"slash"`)
	// "a" and "b" are different groups from "a/b".
	if r := e.rest("HEAD", "/api/hubs/chat/groups/a", apiV, ""); r.status != 404 {
		t.Fatalf("group a: %d", r.status)
	}
	if r := e.rest("POST", userPath+"/:send", apiV, `{"target":"m","arguments":["space"]}`); r.status != 202 {
		t.Fatalf("user send: %d", r.status)
	}
	u.expectInvocation("m", `"space"`)
}

func TestRESTBodyTooLarge(t *testing.T) {
	e := newEnv(t, emulator.Options{MaxBodyBytes: 1000})
	big := `{"target":"m","arguments":["` + strings.Repeat("x", 2000) + `"]}`
	r := e.rest("POST", "/api/hubs/chat/:send", apiV, big)
	if r.status != 413 || r.errorDetail(t).Code != "Error.PayloadTooLarge" {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	e2 := newEnv(t, emulator.Options{})
	huge := `{"target":"m","arguments":["` + strings.Repeat("x", 1<<20) + `"]}`
	if r := e2.rest("POST", "/api/hubs/chat/:send", apiV, huge); r.status != 413 {
		t.Fatalf("1 MB default: status %d", r.status)
	}
}

func TestApplicationPrefix(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	c := e.connect("myapp_chat", "", false)
	plain := e.connect("chat", "", false)
	r := e.rest("POST", "/api/hubs/Chat/:send", "application=MyApp&"+apiV, `{"target":"m","arguments":[1]}`)
	if r.status != 202 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	c.expectInvocation("m", "1")
	plain.expectNothing(100 * time.Millisecond)
}

func TestGenerateTokenAndAccessKey(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	path := "/api/hubs/chat/:generateToken"
	r := e.rest("POST", path, "api-version=2023-07-01&userId=zed&minutesToExpire=5", "")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var gt struct{ Token string }
	if err := json.Unmarshal(r.body, &gt); err != nil || gt.Token == "" {
		t.Fatalf("body %s", r.body)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.Parse(gt.Token, func(*jwt.Token) (any, error) { return []byte(testKey), nil }); err != nil {
		t.Fatal(err)
	}
	_, _, _ = jwt.NewParser().ParseUnverified(gt.Token, claims)
	exp, _ := claims.GetExpirationTime()
	if claims["asrs.s.uid"] != "zed" || claims["aud"] != "http://localhost/client/?hub=chat" || exp.Sub(e.clock.Now()) > 5*time.Minute || exp.Sub(e.clock.Now()) < 4*time.Minute {
		t.Fatalf("claims %v", claims)
	}
	// The generated token connects a client as zed.
	n := e.negotiate("chat", gt.Token)
	c := e.dial("chat", n.ConnectionToken, gt.Token, true)
	c.handshake()
	e.rest("POST", "/api/hubs/chat/users/zed/:send", apiV, `{"target":"m","arguments":[7]}`)
	c.expectInvocation("m", "7")

	if r := e.rest("POST", path, "minutesToExpire=0", ""); r.status != 400 {
		t.Fatalf("minutesToExpire=0: %d", r.status)
	}
	for _, p := range []string{"/api/auth/accessKey", "/api/v1/auth/accessKey"} {
		r := e.rest("GET", p, "api-version=2023-07-01", "")
		var ak struct{ KeyId, AccessKey string }
		if r.status != 200 || json.Unmarshal(r.body, &ak) != nil || ak.AccessKey != testKey || ak.KeyId == "" {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
		if r := e.restWithToken("GET", p, "api-version=2023-07-01", "", ""); r.status != 401 {
			t.Fatalf("%s without token: %d", p, r.status)
		}
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for _, p := range []string{"/client/negotiate?hub=chat&negotiateVersion=1", "/api/hubs/chat/:send?" + apiV} {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+p, nil)
		req.Header.Set("Origin", "http://localhost:5173")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,x-requested-with,x-signalr-user-agent")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "http://localhost:5173" ||
			h.Get("Access-Control-Allow-Credentials") != "true" ||
			h.Get("Access-Control-Allow-Headers") != "authorization,x-requested-with,x-signalr-user-agent" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Fatalf("%s preflight: %d %v", p, resp.StatusCode, h)
		}
	}
	// The actual request also carries the CORS headers, errors included.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/client/negotiate?hub=chat", nil)
	req.Header.Set("Origin", "http://localhost:5173")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("actual request: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestAPIVersion: api-version is required on every /api/ operation but the
// v1 paths and health, must be a published version, and at least the
// version that added the operation.
func TestAPIVersion(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	msg := `{"target":"m","arguments":[]}`
	cases := []struct {
		method, path, query string
		status              int
		says                string
	}{
		{"POST", "/api/hubs/chat/:send", "", 400, "api-version query parameter is required"},
		{"POST", "/api/hubs/chat/:send", "api-version=2019-01-01", 400, `unsupported api-version "2019-01-01"`},
		{"POST", "/api/hubs/chat/:send", "api-version=2022-06-01&api-version=2023-07-01", 400, "once"},
		{"POST", "/api/hubs/chat/:execute", "api-version=2022-06-01", 400, "needs api-version 2023-07-01 or later"},
		{"GET", "/api/hubs/chat/groups/g/connections", "api-version=2023-07-01", 400, "needs api-version 2024-12-01"},
		{"POST", "/api/hubs/chat/:send", "api-version=2022-11-01", 202, ""},
		{"POST", "/api/hubs/chat/:send", "api-version=2024-12-01", 202, ""},
		{"POST", "/api/v1/hubs/chat", "", 202, ""},
		{"HEAD", "/api/health", "", 200, ""},
	}
	for _, c := range cases {
		body := ""
		if c.method == "POST" && !strings.Contains(c.path, ":execute") {
			body = msg
		}
		r := e.rest(c.method, c.path, c.query, body)
		if r.status != c.status {
			t.Errorf("%s %s?%s: %d %s, want %d", c.method, c.path, c.query, r.status, r.body, c.status)
			continue
		}
		if c.says != "" {
			if d := r.errorDetail(t); d.Code != "Error.InvalidRequest" || d.Target != "api-version" || !strings.Contains(d.Message, c.says) {
				t.Errorf("%s %s?%s: %+v, want a message saying %q", c.method, c.path, c.query, d, c.says)
			}
		}
	}
}
