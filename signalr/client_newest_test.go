package signalr_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/serverless-signalr/functions-go/signalr"
	"github.com/serverless-signalr/functions-go/signalr/filter"
)

// audOf is the token audience the SDK must sign for a recorded request:
// the URL without the port, with only application and api-version kept.
func audOf(t *testing.T, srvURL, requestURI string) string {
	t.Helper()
	u, _ := url.Parse(srvURL)
	p, q, _ := strings.Cut(requestURI, "?")
	vals, _ := url.ParseQuery(q)
	aud := "http://" + u.Hostname() + p + "?"
	if a := vals.Get("application"); a != "" {
		aud += "application=" + url.QueryEscape(a) + "&"
	}
	return aud + "api-version=" + vals.Get("api-version")
}

func TestNewestOperationsWire(t *testing.T) { onBothPaths(t, testNewestOperationsWire) }

func testNewestOperationsWire(t *testing.T) {
	msg := signalr.Message{Target: "ask", Arguments: json.RawMessage(`["q"]`)}
	cases := []struct {
		name   string
		status int
		answer string
		do     func(context.Context, *signalr.Client) error
		uri    string
		body   string
	}{
		{"execute", 202, "", func(ctx context.Context, c *signalr.Client) error {
			_, err := c.Execute(ctx, "Chat", []signalr.Command{
				signalr.SendMessageCommand(msg), signalr.JoinGroupCommand("a/b"), signalr.LeaveGroupCommand("g"), signalr.CloseConnectionCommand("bye"),
			}, &signalr.ExecuteOptions{Filter: filter.UserIs("o'brien & co").String()})
			return err
		}, "/api/hubs/chat/:execute?api-version=2023-07-01&filter=userId+eq+%27o%27%27brien+%26+co%27",
			`[{"type":"SendMessage","message":{"target":"ask","arguments":["q"]}},{"type":"JoinGroup","group":"a/b"},{"type":"LeaveGroup","group":"g"},{"type":"CloseConnection","reason":"bye"}]`},
		{"execute without filter, per-call application", 202, "", func(ctx context.Context, c *signalr.Client) error {
			_, err := c.Execute(ctx, "chat", []signalr.Command{signalr.JoinGroupCommand("g")}, &signalr.ExecuteOptions{Application: "App1"})
			return err
		}, "/api/hubs/chat/:execute?application=App1&api-version=2023-07-01", `[{"type":"JoinGroup","group":"g"}]`},
		{"invoke", 200, `{"result":{"message":"Hello, World!"}}`, func(ctx context.Context, c *signalr.Client) error {
			r, err := c.Invoke(ctx, "chat", "c/1 x", msg, nil)
			if err == nil && string(r.Result) != `{"message":"Hello, World!"}` {
				return errors.New("result " + string(r.Result))
			}
			return err
		}, "/api/hubs/chat/connections/c%2F1%20x/:invoke?api-version=2024-12-01", `{"target":"ask","arguments":["q"]}`},
		{"invoke void", 200, `{}`, func(ctx context.Context, c *signalr.Client) error {
			r, err := c.Invoke(ctx, "chat", "c1", msg, &signalr.InvokeOptions{Application: "a"})
			if err == nil && r.Result != nil {
				return errors.New("result " + string(r.Result))
			}
			return err
		}, "/api/hubs/chat/connections/c1/:invoke?application=a&api-version=2024-12-01", `{"target":"ask","arguments":["q"]}`},
		{"stream send", 202, "", func(ctx context.Context, c *signalr.Client) error {
			_, err := c.SendToConnectionStream(ctx, "chat", "c1", "s 1", json.RawMessage(`{"n":1}`), &signalr.SendToConnectionStreamOptions{Completed: true})
			return err
		}, "/api/hubs/chat/connections/c1/streams/s%201/:send?api-version=2024-12-01&completed=true", `{"n":1}`},
		{"stream complete", 202, "", func(ctx context.Context, c *signalr.Client) error {
			_, err := c.CompleteConnectionStream(ctx, "chat", "c1", "s1", &signalr.CompleteConnectionStreamOptions{Reason: "boom"})
			return err
		}, "/api/hubs/chat/connections/c1/streams/s1/:complete?api-version=2024-12-01&reason=boom", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if tc.answer != "" {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.answer))
			})
			c := newTestClient(t, rec.srv.URL, nil)
			if err := tc.do(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Method != "POST" || r.RequestURI != tc.uri || string(r.Body) != tc.body {
				t.Fatalf("got %s %s %s\nwant POST %s %s", r.Method, r.RequestURI, r.Body, tc.uri, tc.body)
			}
			checkServerToken(t, r.Auth, audOf(t, rec.srv.URL, r.RequestURI))
		})
	}
}

func TestNewestArgumentsCheckedBeforeSending(t *testing.T) {
	onBothPaths(t, testNewestArgumentsCheckedBeforeSending)
}

func testNewestArgumentsCheckedBeforeSending(t *testing.T) {
	rec := newRecorder(t, func(int, http.ResponseWriter, *http.Request) { t.Error("a request was sent") })
	c := newTestClient(t, rec.srv.URL, nil)
	ctx := context.Background()
	join := []signalr.Command{signalr.JoinGroupCommand("g")}
	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"bad filter": {func() error {
			_, err := c.Execute(ctx, "chat", join, &signalr.ExecuteOptions{Filter: "userId eq"})
			return err
		}(), "argument filter"},
		"no commands":  {func() error { _, err := c.Execute(ctx, "chat", nil, nil); return err }(), "argument commands"},
		"unknown type": {func() error { _, err := c.Execute(ctx, "chat", []signalr.Command{{Type: "Dance"}}, nil); return err }(), "argument commands"},
		"bad group": {func() error {
			_, err := c.Execute(ctx, "chat", []signalr.Command{signalr.JoinGroupCommand("")}, nil)
			return err
		}(), "argument group"},
		"bad app": {func() error {
			_, err := c.Execute(ctx, "chat", join, &signalr.ExecuteOptions{Application: "1x"})
			return err
		}(), "argument application"},
		"no target":     {func() error { _, err := c.Invoke(ctx, "chat", "c1", signalr.Message{}, nil); return err }(), "argument target"},
		"no conn":       {func() error { _, err := c.Invoke(ctx, "chat", "", signalr.Message{Target: "x"}, nil); return err }(), "argument connectionID"},
		"bad stream id": {func() error { _, err := c.CompleteConnectionStream(ctx, "chat", "c1", " ", nil); return err }(), "argument streamID"},
		"bad item": {func() error {
			_, err := c.SendToConnectionStream(ctx, "chat", "c1", "s", json.RawMessage(`{`), nil)
			return err
		}(), "argument item"},
		"bad page size": {func() error {
			_, err := c.NewListConnectionsInGroupPager("chat", "g", &signalr.ListConnectionsInGroupOptions{MaxPageSize: 201}).NextPage(ctx)
			return err
		}(), "argument maxPageSize"},
	} {
		if got := outcome(tc.err); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
	var ae *signalr.ArgumentError
	var se *filter.SyntaxError
	_, err := c.Execute(ctx, "chat", join, &signalr.ExecuteOptions{Filter: "userId eq"})
	if !errors.As(err, &ae) || !errors.As(err, &se) || se.Pos != 9 {
		t.Errorf("bad filter error %v does not carry the *filter.SyntaxError", err)
	}
	if _, err := signalr.NewClientFromConnectionString(connStr(t, rec.srv.URL), &signalr.ClientOptions{Application: "bad app"}); outcome(err) != "argument application" {
		t.Errorf("client Application: %v", err)
	}
}

func TestClientApplicationOnEveryCall(t *testing.T) { onBothPaths(t, testClientApplicationOnEveryCall) }

func testClientApplicationOnEveryCall(t *testing.T) {
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	opts := quietOptions()
	opts.Application = "app1"
	c := newTestClient(t, rec.srv.URL, opts)
	ctx := context.Background()
	msg := signalr.Message{Target: "m"}
	if _, err := c.SendToAll(ctx, "chat", msg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(ctx, "chat", []signalr.Command{signalr.SendMessageCommand(msg)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(ctx, "chat", []signalr.Command{signalr.SendMessageCommand(msg)}, &signalr.ExecuteOptions{Application: "other"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/api/hubs/chat/:send?application=app1&api-version=2022-06-01",
		"/api/hubs/chat/:execute?application=app1&api-version=2023-07-01",
		"/api/hubs/chat/:execute?application=other&api-version=2023-07-01",
	}
	for i, r := range rec.requests() {
		if r.RequestURI != want[i] {
			t.Errorf("request %d: %s, want %s", i, r.RequestURI, want[i])
		}
		checkServerToken(t, r.Auth, audOf(t, rec.srv.URL, r.RequestURI))
	}
}

func TestInvokeFailuresAreNotRetried(t *testing.T) { onBothPaths(t, testInvokeFailuresAreNotRetried) }

func testInvokeFailuresAreNotRetried(t *testing.T) {
	// 503 (and 408, 429) are retried: the service did not act on the request.
	for _, status := range []int{400, 404, 500, 502, 504} {
		rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("x-ms-error-code", "Error.Invocation.Failed")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"code":"Error.Invocation.Failed","message":"client said no"}`))
		})
		c := newTestClient(t, rec.srv.URL, nil)
		_, err := c.Invoke(context.Background(), "chat", "c1", signalr.Message{Target: "x"}, nil)
		var re *signalr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != status || re.ErrorCode != "Error.Invocation.Failed" || re.Message != "client said no" {
			t.Errorf("%d: %v", status, err)
		}
		if n := len(rec.requests()); n != 1 {
			t.Errorf("%d: %d requests, want 1 (an invocation is never repeated)", status, n)
		}
	}
}

func TestInvokeTimeoutOverridesTryTimeout(t *testing.T) {
	onBothPaths(t, testInvokeTimeoutOverridesTryTimeout)
}

func testInvokeTimeoutOverridesTryTimeout(t *testing.T) {
	// In a synctest bubble (fake time, in-memory transport): the waits
	// below take no real time.
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		opts := quietOptions()
		opts.Retry.TryTimeout = 50 * time.Millisecond
		c := memClient(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"result":42}`))
		}, opts)
		// The default per-try timeout applies without Timeout.
		if _, err := c.Invoke(context.Background(), "chat", "c1", signalr.Message{Target: "x"}, nil); outcome(err) != "timeout" {
			t.Fatalf("without Timeout: %v, want a timeout", err)
		}
		// With a longer Timeout the call outlives the try timeout.
		go func() {
			time.Sleep(200 * time.Millisecond) // fake time: longer than TryTimeout
			close(release)
		}()
		start := time.Now()
		r, err := c.Invoke(context.Background(), "chat", "c1", signalr.Message{Target: "x"}, &signalr.InvokeOptions{Timeout: 10 * time.Second})
		if err != nil || string(r.Result) != "42" {
			t.Fatalf("with Timeout: %v %s", err, r.Result)
		}
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Fatalf("answered after %v, want when released (200ms)", d)
		}
	})
}

func TestListConnectionsInGroupPager(t *testing.T) { onBothPaths(t, testListConnectionsInGroupPager) }

func testListConnectionsInGroupPager(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch n {
		case 0:
			// The service's nextLink may name another host (its public name):
			// only its path and query are used.
			_, _ = w.Write([]byte(`{"value":[{"connectionId":"c1","userId":"u1"},{"connectionId":"c2"}],
				"nextLink":"https://www.host.com/api/hubs/chat/groups/a%2Fb/connections?top=998&maxpagesize=2&continuationToken=YzI&api-version=2024-12-01&application=app1"}`))
		case 1:
			_, _ = w.Write([]byte(`{"value":[{"connectionId":"c3","userId":"u3"}]}`))
		default:
			t.Error("request after the last page")
		}
	})
	c := newTestClient(t, rec.srv.URL, nil)
	pager := c.NewListConnectionsInGroupPager("Chat", "a/b", &signalr.ListConnectionsInGroupOptions{MaxPageSize: 2, Top: 1000, Application: "app1"})
	var got []signalr.GroupMember
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Value...)
	}
	want := []signalr.GroupMember{{"c1", "u1"}, {"c2", ""}, {"c3", "u3"}}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("members %+v, want %+v", got, want)
	}
	reqs := rec.requests()
	wantURI := []string{
		"/api/hubs/chat/groups/a%2Fb/connections?application=app1&api-version=2024-12-01&maxpagesize=2&top=1000",
		"/api/hubs/chat/groups/a%2Fb/connections?application=app1&api-version=2024-12-01&continuationToken=YzI&maxpagesize=2&top=998",
	}
	for i, r := range reqs {
		if r.Method != "GET" || r.RequestURI != wantURI[i] {
			t.Errorf("request %d: %s %s, want GET %s", i, r.Method, r.RequestURI, wantURI[i])
		}
		checkServerToken(t, r.Auth, audOf(t, rec.srv.URL, r.RequestURI))
	}
}

func TestListConnectionsInGroupRefusesForeignNextLink(t *testing.T) {
	onBothPaths(t, testListConnectionsInGroupRefusesForeignNextLink)
}

func testListConnectionsInGroupRefusesForeignNextLink(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":[],"nextLink":"https://evil.example/api/hubs/chat/users/x/:closeConnections"}`))
	})
	c := newTestClient(t, rec.srv.URL, nil)
	pager := c.NewListConnectionsInGroupPager("chat", "g", nil)
	if _, err := pager.NextPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := pager.NextPage(context.Background()); err == nil || !strings.Contains(err.Error(), "does not continue this listing") {
		t.Fatalf("foreign nextLink: %v", err)
	}
	if n := len(rec.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}
