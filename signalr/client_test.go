package signalr_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

const testKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// seen is one request as the test server received it.
type seen struct {
	Method, RequestURI, Auth, ContentType, UserAgent string
	Body                                             []byte
	Header                                           http.Header
}

// recorder is a loopback service fake that records every request and
// answers with reply(n, w, r) for the n-th (0-based) request.
type recorder struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []seen
	reply func(n int, w http.ResponseWriter, r *http.Request)
}

func newRecorder(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{t: t, reply: reply}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		n := len(rec.reqs)
		rec.reqs = append(rec.reqs, seen{r.Method, r.RequestURI, r.Header.Get("Authorization"),
			r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), body, r.Header.Clone()})
		rec.mu.Unlock()
		rec.reply(n, w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// header returns header name of the i-th request.
func (rec *recorder) header(i int, name string) string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.reqs[i].Header.Get(name)
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

// connStr returns an AccessKey connection string for a loopback server URL,
// with the port in the Port key as the emulator prints it.
func connStr(t testing.TB, serverURL string) string {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	return "Endpoint=" + u.Scheme + "://" + u.Hostname() + ";Port=" + u.Port() + ";AccessKey=" + testKey + ";Version=1.0;"
}

// outcome describes err in the SDK's terms: "" for nil, "status N" for a
// *ResponseError, the kind of a *ConnectionError, "circuit open",
// "argument NAME" and "too large".
func outcome(err error) string {
	var (
		re *signalr.ResponseError
		ce *signalr.ConnectionError
		co *signalr.CircuitOpenError
		ae *signalr.ArgumentError
		pe *signalr.PayloadTooLargeError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return "status " + strconv.Itoa(re.StatusCode)
	case errors.As(err, &ce):
		return ce.Kind.String()
	case errors.As(err, &co):
		return "circuit open"
	case errors.As(err, &ae):
		return "argument " + ae.Name
	case errors.As(err, &pe):
		return "too large"
	}
	return "other: " + err.Error()
}

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func quietOptions() *signalr.ClientOptions {
	return &signalr.ClientOptions{
		Logger:     slog.New(slog.DiscardHandler),
		ServerName: "test-server_0123",
		Now:        func() time.Time { return fixedNow },
		ClientOptions: azcore.ClientOptions{
			Retry: policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond, TryTimeout: 2 * time.Second},
		},
		RetryBudget: 5 * time.Second,
	}
}

func newTestClient(t *testing.T, serverURL string, opts *signalr.ClientOptions) *signalr.Client {
	t.Helper()
	if opts == nil {
		opts = quietOptions()
	}
	c, err := signalr.NewClientFromConnectionString(connStr(t, serverURL), onPath(opts))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkServerToken parses the bearer and checks its header and claims.
func checkServerToken(t *testing.T, auth, wantAud string) {
	t.Helper()
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		t.Fatalf("Authorization = %q, want a bearer token", auth)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testKey), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return fixedNow }))
	if err != nil {
		t.Fatalf("server token does not verify: %v", err)
	}
	if _, has := parsed.Header["kid"]; has {
		t.Errorf("kid = %v, want none for a connection-string key", parsed.Header["kid"])
	}
	if aud, ok := claims["aud"].(string); !ok || aud != wantAud {
		t.Errorf("aud = %#v, want the string %q", claims["aud"], wantAud)
	}
	if claims["nameid"] != "test-server_0123" {
		t.Errorf("nameid = %v", claims["nameid"])
	}
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	if int64(iat) != fixedNow.Unix() || int64(exp) != fixedNow.Add(time.Hour).Unix() {
		t.Errorf("iat, exp = %v, %v; want now and now+1h", iat, exp)
	}
}

func TestOperationsWire(t *testing.T) { onBothPaths(t, testOperationsWire) }

func testOperationsWire(t *testing.T) {
	msg := signalr.Message{Target: "newMessage", Arguments: json.RawMessage(`["hi",{"n":1}]`)}
	const body = `{"target":"newMessage","arguments":["hi",{"n":1}]}`
	ttl := 90*time.Second + 500*time.Millisecond
	const (
		hub   = "/api/hubs/chat"
		group = "/groups/a%2Fb%20c"
		user  = "/users/u%3A1%40x"
		conn  = "/connections/c%2B1%3D"
		v     = "api-version=2022-06-01"
	)
	cases := []struct {
		name   string
		status int
		do     func(context.Context, *signalr.Client) error
		method string
		path   string // escaped path after the server base, without query
		query  string // extra query after api-version
		body   string
	}{
		{"SendToAll", 202, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.SendToAll(ctx, "Chat", msg, &signalr.SendToAllOptions{Excluded: []string{"e 1", "e2"}})
			return err
		}, "POST", hub + "/:send", "&excluded=e+1&excluded=e2", body},
		{"SendToUser", 202, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.SendToUser(ctx, "Chat", "u:1@x", msg, nil)
			return err
		}, "POST", hub + user + "/:send", "", body},
		{"SendToConnection", 202, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.SendToConnection(ctx, "Chat", "c+1=", msg, nil)
			return err
		}, "POST", hub + conn + "/:send", "", body},
		{"SendToGroup", 202, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.SendToGroup(ctx, "Chat", "a/b c", msg, &signalr.SendToGroupOptions{Excluded: []string{"x"}})
			return err
		}, "POST", hub + group + "/:send", "&excluded=x", body},
		{"CloseAllConnections", 204, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.CloseAllConnections(ctx, "Chat", &signalr.CloseConnectionsOptions{Excluded: []string{"k"}, Reason: "bye now"})
			return err
		}, "POST", hub + "/:closeConnections", "&excluded=k&reason=bye+now", ""},
		{"CloseGroupConnections", 204, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.CloseGroupConnections(ctx, "Chat", "a/b c", &signalr.CloseConnectionsOptions{Reason: "r"})
			return err
		}, "POST", hub + group + "/:closeConnections", "&reason=r", ""},
		{"CloseUserConnections", 204, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.CloseUserConnections(ctx, "Chat", "u:1@x", nil)
			return err
		}, "POST", hub + user + "/:closeConnections", "", ""},
		{"CloseConnection", 200, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.CloseConnection(ctx, "Chat", "c+1=", &signalr.CloseConnectionOptions{Reason: "kick"})
			return err
		}, "DELETE", hub + conn, "&reason=kick", ""},
		{"ConnectionExists", 200, func(ctx context.Context, c *signalr.Client) error {
			r, err := c.ConnectionExists(ctx, "Chat", "c+1=", nil)
			return wantTrue(r.Exists, err)
		}, "HEAD", hub + conn, "", ""},
		{"UserExists", 200, func(ctx context.Context, c *signalr.Client) error {
			r, err := c.UserExists(ctx, "Chat", "u:1@x", nil)
			return wantTrue(r.Exists, err)
		}, "HEAD", hub + user, "", ""},
		{"GroupExists", 200, func(ctx context.Context, c *signalr.Client) error {
			r, err := c.GroupExists(ctx, "Chat", "a/b c", nil)
			return wantTrue(r.Exists, err)
		}, "HEAD", hub + group, "", ""},
		{"AddConnectionToGroup", 200, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.AddConnectionToGroup(ctx, "Chat", "a/b c", "c+1=", nil)
			return err
		}, "PUT", hub + group + conn, "", ""},
		{"RemoveConnectionFromGroup", 200, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.RemoveConnectionFromGroup(ctx, "Chat", "a/b c", "c+1=", nil)
			return err
		}, "DELETE", hub + group + conn, "", ""},
		{"RemoveConnectionFromAllGroups", 200, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.RemoveConnectionFromAllGroups(ctx, "Chat", "c+1=", nil)
			return err
		}, "DELETE", hub + conn + "/groups", "", ""},
		{"AddUserToGroup", 200, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.AddUserToGroup(ctx, "Chat", "a/b c", "u:1@x", &signalr.AddUserToGroupOptions{TTL: &ttl})
			return err
		}, "PUT", hub + user + group, "&ttl=90", ""},
		{"AddUserToGroupNoTTL", 200, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.AddUserToGroup(ctx, "Chat", "a/b c", "u:1@x", nil)
			return err
		}, "PUT", hub + user + group, "", ""},
		{"RemoveUserFromGroup", 204, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.RemoveUserFromGroup(ctx, "Chat", "a/b c", "u:1@x", nil)
			return err
		}, "DELETE", hub + user + group, "", ""},
		{"RemoveUserFromAllGroups", 204, func(ctx context.Context, c *signalr.Client) error {
			_, err := c.RemoveUserFromAllGroups(ctx, "Chat", "u:1@x", nil)
			return err
		}, "DELETE", hub + user + "/groups", "", ""},
		{"UserInGroup", 200, func(ctx context.Context, c *signalr.Client) error {
			r, err := c.UserInGroup(ctx, "Chat", "a/b c", "u:1@x", nil)
			return wantTrue(r.InGroup, err)
		}, "HEAD", hub + user + group, "", ""},
		{"Health", 200, func(ctx context.Context, c *signalr.Client) error {
			r, err := c.Health(ctx, nil)
			return wantTrue(r.StatusCode == 200, err)
		}, "HEAD", "/api/health", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tc.status) })
			c := newTestClient(t, rec.srv.URL, nil)
			if err := tc.do(t.Context(), c); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tc.method {
				t.Errorf("method = %s, want %s", r.Method, tc.method)
			}
			if want := tc.path + "?" + v + tc.query; r.RequestURI != want {
				t.Errorf("request URI = %s\nwant          %s", r.RequestURI, want)
			}
			checkServerToken(t, r.Auth, "http://127.0.0.1"+tc.path+"?"+v)
			if string(r.Body) != tc.body {
				t.Errorf("body = %q, want %q", r.Body, tc.body)
			}
			wantCT := ""
			if tc.body != "" {
				wantCT = "application/json; charset=utf-8"
			}
			if r.ContentType != wantCT {
				t.Errorf("Content-Type = %q, want %q", r.ContentType, wantCT)
			}
			if !strings.HasPrefix(r.UserAgent, "serverless-signalr-go/") {
				t.Errorf("User-Agent = %q", r.UserAgent)
			}
		})
	}
}

func wantTrue(b bool, err error) error {
	if err != nil {
		return err
	}
	if !b {
		return errors.New("result is false, want true")
	}
	return nil
}

func TestGenerateClientToken(t *testing.T) { onBothPaths(t, testGenerateClientToken) }

func testGenerateClientToken(t *testing.T) {
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"token":"service-minted"}`)
	})
	c := newTestClient(t, rec.srv.URL, nil)
	r, err := c.GenerateClientToken(t.Context(), "Chat", &signalr.GenerateClientTokenOptions{UserID: "al ice", MinutesToExpire: 5})
	if err != nil || r.Token != "service-minted" {
		t.Fatalf("GenerateClientToken = %+v, %v", r, err)
	}
	got := rec.requests()[0]
	if got.Method != "POST" || got.RequestURI != "/api/hubs/chat/:generateToken?api-version=2023-07-01&minutesToExpire=5&userId=al+ice" {
		t.Errorf("request = %s %s", got.Method, got.RequestURI)
	}
	checkServerToken(t, got.Auth, "http://127.0.0.1/api/hubs/chat/:generateToken?api-version=2023-07-01")
}

func TestGetAccessKeyWire(t *testing.T) { onBothPaths(t, testGetAccessKeyWire) }

func testGetAccessKeyWire(t *testing.T) {
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"KeyId":"kid-1","AccessKey":"secret-1"}`)
	})
	c := newTestClient(t, rec.srv.URL, nil)
	r, err := c.GetAccessKey(t.Context(), nil)
	if err != nil || r.Key.ID != "kid-1" || r.Key.Value != "secret-1" {
		t.Fatalf("GetAccessKey = %+v, %v", r, err)
	}
	got := rec.requests()[0]
	if got.Method != "GET" || got.RequestURI != "/api/v1/auth/accessKey" {
		t.Errorf("request = %s %s", got.Method, got.RequestURI)
	}
	checkServerToken(t, got.Auth, "http://127.0.0.1/api/v1/auth/accessKey")
}

func TestTolerated404(t *testing.T) { onBothPaths(t, testTolerated404) }

func testTolerated404(t *testing.T) {
	reply := func(code string) func(int, http.ResponseWriter, *http.Request) {
		return func(_ int, w http.ResponseWriter, _ *http.Request) {
			if code != "" {
				w.Header().Set("x-ms-error-code", code)
			}
			w.WriteHeader(404)
		}
	}
	ctx := t.Context()
	t.Run("exists", func(t *testing.T) {
		for _, code := range []string{"", "Warning.Connection.NotExisted"} {
			c := newTestClient(t, newRecorder(t, reply(code)).srv.URL, nil)
			r, err := c.ConnectionExists(ctx, "chat", "c1", nil)
			if err != nil || r.Exists {
				t.Errorf("ConnectionExists with 404 %q = %v, %v; want false, nil", code, r.Exists, err)
			}
		}
		c := newTestClient(t, newRecorder(t, reply("Warning.User.NotExisted")).srv.URL, nil)
		if r, err := c.UserExists(ctx, "chat", "u", nil); err != nil || r.Exists {
			t.Errorf("UserExists = %v, %v", r.Exists, err)
		}
		c = newTestClient(t, newRecorder(t, reply("Warning.Group.NotExisted")).srv.URL, nil)
		if r, err := c.GroupExists(ctx, "chat", "g", nil); err != nil || r.Exists {
			t.Errorf("GroupExists = %v, %v", r.Exists, err)
		}
		c = newTestClient(t, newRecorder(t, reply("Info.User.NotInGroup")).srv.URL, nil)
		if r, err := c.UserInGroup(ctx, "chat", "g", "u", nil); err != nil || r.InGroup {
			t.Errorf("UserInGroup = %v, %v", r.InGroup, err)
		}
	})
	t.Run("close connection", func(t *testing.T) {
		c := newTestClient(t, newRecorder(t, reply("Warning.Connection.NotExisted")).srv.URL, nil)
		if _, err := c.CloseConnection(ctx, "chat", "c1", nil); err != nil {
			t.Errorf("CloseConnection with 404 = %v, want nil", err)
		}
	})
	t.Run("other 404s are errors", func(t *testing.T) {
		c := newTestClient(t, newRecorder(t, reply("Error.Connection.NotExisted")).srv.URL, nil)
		_, err := c.AddConnectionToGroup(ctx, "chat", "g", "c1", nil)
		var re *signalr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 404 || re.ErrorCode != "Error.Connection.NotExisted" || outcome(err) != "status 404" {
			t.Errorf("AddConnectionToGroup 404 = %#v", err)
		}
		c = newTestClient(t, newRecorder(t, reply("Something.Else")).srv.URL, nil)
		if _, err := c.ConnectionExists(ctx, "chat", "c1", nil); !errors.As(err, &re) {
			t.Errorf("ConnectionExists with an unexpected 404 code = %v, want a *ResponseError", err)
		}
	})
}

func TestResponseErrors(t *testing.T) { onBothPaths(t, testResponseErrors) }

func testResponseErrors(t *testing.T) {
	cases := []struct {
		status int
		code   string
	}{
		{400, "status 400"}, {401, "status 401"}, {403, "status 403"},
		{404, "status 404"}, {429, "status 429"}, {500, "status 500"},
		{502, "status 502"}, {503, "status 503"}, {504, "status 504"},
	}
	for _, tc := range cases {
		rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("x-ms-error-code", "Error.Test")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			io.WriteString(w, `{"code":"Error.Body","message":"bad\nthing `+strings.Repeat("x", 2000)+`","target":null}`)
		})
		o := quietOptions()
		o.Retry.MaxRetries = -1
		c := newTestClient(t, rec.srv.URL, o)
		_, err := c.SendToAll(t.Context(), "chat", signalr.Message{Target: "t"}, nil)
		var re *signalr.ResponseError
		if !errors.As(err, &re) {
			t.Fatalf("%d: err = %v, want *ResponseError", tc.status, err)
		}
		if re.StatusCode != tc.status || outcome(err) != tc.code || re.ErrorCode != "Error.Test" || re.Operation != "SendToAll" {
			t.Errorf("%d: %+v", tc.status, re)
		}
		if re.Endpoint != rec.srv.URL+"/" {
			t.Errorf("Endpoint = %q", re.Endpoint)
		}
		if !strings.HasPrefix(re.Message, "bad thing xxx") || len(re.Message) > 512 || strings.ContainsAny(re.Message, "\n\r") {
			t.Errorf("Message = %q (len %d)", re.Message[:min(40, len(re.Message))], len(re.Message))
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("error text leaks the key")
		}
	}
}

func TestArgumentErrors(t *testing.T) { onBothPaths(t, testArgumentErrors) }

func testArgumentErrors(t *testing.T) {
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) })
	c := newTestClient(t, rec.srv.URL, nil)
	ctx := t.Context()
	neg := -time.Second
	msg := signalr.Message{Target: "t"}
	cases := []struct {
		code string
		err  error
	}{
		{"argument hub", second(c.SendToAll(ctx, "1bad", msg, nil))},
		{"argument hub", second(c.SendToAll(ctx, "", msg, nil))},
		{"argument group", second(c.SendToGroup(ctx, "chat", "   ", msg, nil))},
		{"argument userID", second(c.SendToUser(ctx, "chat", "", msg, nil))},
		{"argument connectionID", second(c.SendToConnection(ctx, "chat", "", msg, nil))},
		{"argument connectionID", second(c.CloseConnection(ctx, "chat", "", nil))},
		{"argument userID", second(c.AddUserToGroup(ctx, "chat", "g", "", nil))},
		{"argument target", second(c.SendToAll(ctx, "chat", signalr.Message{}, nil))},
		{"argument arguments", second(c.SendToAll(ctx, "chat", signalr.Message{Target: "t", Arguments: json.RawMessage(`{"a":1}`)}, nil))},
		{"argument arguments", second(c.SendToAll(ctx, "chat", signalr.Message{Target: "t", Arguments: json.RawMessage(`[1,`)}, nil))},
		{"argument ttl", second(c.AddUserToGroup(ctx, "chat", "g", "u", &signalr.AddUserToGroupOptions{TTL: &neg}))},
	}
	for i, tc := range cases {
		var ae *signalr.ArgumentError
		if !errors.As(tc.err, &ae) || outcome(tc.err) != tc.code {
			t.Errorf("case %d: err = %v (%q), want an *ArgumentError: %s", i, tc.err, outcome(tc.err), tc.code)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests for invalid arguments", n)
	}
}

func second[T any](_ T, err error) error { return err }

func TestPayloadTooLargeBeforeSending(t *testing.T) { onBothPaths(t, testPayloadTooLargeBeforeSending) }

func testPayloadTooLargeBeforeSending(t *testing.T) {
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) })
	c := newTestClient(t, rec.srv.URL, nil)
	// Exactly at the limit is accepted, one byte more is refused.
	overhead := len(`{"target":"t","arguments":[""]}`)
	fit := signalr.Message{Target: "t", Arguments: json.RawMessage(`["` + strings.Repeat("a", signalr.MaxPayloadSize-overhead) + `"]`)}
	if _, err := c.SendToAll(t.Context(), "chat", fit, nil); err != nil {
		t.Fatalf("message of exactly MaxPayloadSize: %v", err)
	}
	over := signalr.Message{Target: "t", Arguments: json.RawMessage(`["` + strings.Repeat("a", signalr.MaxPayloadSize-overhead+1) + `"]`)}
	_, err := c.SendToAll(t.Context(), "chat", over, nil)
	var pe *signalr.PayloadTooLargeError
	if !errors.As(err, &pe) || pe.Size != signalr.MaxPayloadSize+1 || pe.Limit != 1<<20 || outcome(err) != "too large" {
		t.Fatalf("err = %v, want *PayloadTooLargeError of %d bytes", err, signalr.MaxPayloadSize+1)
	}
	reqs := rec.requests()
	if len(reqs) != 1 || len(reqs[0].Body) != signalr.MaxPayloadSize {
		t.Errorf("server saw %d requests; want only the one that fits", len(reqs))
	}
}

func TestNewMessage(t *testing.T) {
	m, err := signalr.NewMessage("notify", "a", 1, map[string]bool{"ok": true})
	if err != nil || m.Target != "notify" || string(m.Arguments) != `["a",1,{"ok":true}]` {
		t.Fatalf("NewMessage = %+v, %v", m, err)
	}
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) })
	c := newTestClient(t, rec.srv.URL, nil)
	empty, _ := signalr.NewMessage("ping")
	if _, err := c.SendToAll(t.Context(), "chat", empty, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendToAll(t.Context(), "chat", signalr.Message{Target: "ping"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.requests() {
		if string(r.Body) != `{"target":"ping","arguments":[]}` {
			t.Errorf("body = %s", r.Body)
		}
	}
}

func TestDefaultServerName(t *testing.T) {
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) })
	o := quietOptions()
	o.ServerName = ""
	c := newTestClient(t, rec.srv.URL, o)
	for range 2 {
		if _, err := c.SendToAll(t.Context(), "chat", signalr.Message{Target: "t"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, r := range rec.requests() {
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimPrefix(r.Auth, "Bearer "), claims); err != nil {
			t.Fatal(err)
		}
		names = append(names, claims["nameid"].(string))
	}
	if !regexp.MustCompile(`^.+_[0-9a-f]{32}$`).MatchString(names[0]) || names[0] != names[1] {
		t.Errorf("server names = %q, want one {hostname}_{32 hex} per client", names)
	}
}

// TestServerTokenReusedPerAudience: a server token is signed once per
// audience and reused until 10 minutes before it expires.
func TestServerTokenReusedPerAudience(t *testing.T) { onBothPaths(t, testServerTokenReusedPerAudience) }

func testServerTokenReusedPerAudience(t *testing.T) {
	rec := newRecorder(t, statusSequence(202))
	clock := testutil.NewClock(fixedNow)
	o := quietOptions()
	o.Now = clock.Now
	c := newTestClient(t, rec.srv.URL, o)
	send := func(hub string) {
		t.Helper()
		if _, err := c.SendToAll(t.Context(), hub, hello, nil); err != nil {
			t.Fatal(err)
		}
	}
	send("chat")
	clock.Advance(49 * time.Minute)
	send("chat")
	send("other")
	clock.Advance(time.Minute + time.Second) // 50 min: within 10 min of expiry
	send("chat")
	r := rec.requests()
	if r[0].Auth != r[1].Auth {
		t.Error("the token of the same audience was not reused")
	}
	if r[2].Auth == r[0].Auth {
		t.Error("another audience reused the token")
	}
	if r[3].Auth == r[0].Auth {
		t.Error("a token 10 minutes from expiry was reused")
	}
	checkServerToken(t, r[0].Auth, "http://127.0.0.1/api/hubs/chat/:send?api-version=2022-06-01")
}
