package apperr_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// hintFor returns the hint a client sees for e.
func hintFor(e *apperr.Error) string { return e.Body().Error.Hint }

// client returns a one-try SDK client without breaker for url.
func client(t *testing.T, url string, mutate func(*signalr.ClientOptions)) *signalr.Client {
	t.Helper()
	o := &signalr.ClientOptions{Logger: slog.New(slog.DiscardHandler), Breaker: signalr.BreakerOptions{Disabled: true}}
	o.Retry.MaxRetries = -1
	o.Retry.TryTimeout = 2 * time.Second
	if mutate != nil {
		mutate(o)
	}
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"))
	scheme := "http"
	if strings.HasPrefix(url, "https") {
		scheme = "https"
	}
	c, err := signalr.NewClientFromConnectionString("Endpoint="+scheme+"://"+host+";Port="+port+";AccessKey=0123456789abcdef0123456789abcdef;Version=1.0;", o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func send(c *signalr.Client) error {
	_, err := c.SendToAll(context.Background(), "chat", signalr.Message{Target: "t"}, nil)
	return err
}

func addConn(c *signalr.Client) error { // idempotent
	_, err := c.AddConnectionToGroup(context.Background(), "chat", "g", "c1", nil)
	return err
}

// serviceHints are words each service.* code's hint must carry: the hint
// must fit the cause.
var serviceHints = map[string][]string{
	apperr.CodeServiceUnauthorized:       {"az signalr key list", "Entra ID"},
	apperr.CodeServiceForbidden:          {"SignalR Service Owner", "network"},
	apperr.CodeServiceNotFound:           {"Endpoint", "Serverless"},
	apperr.CodeServiceConnectionNotFound: {"race", "userId"},
	apperr.CodeServiceBadRequest:         {"service's message"},
	apperr.CodeServiceThrottled:          {"Retry later", "scale"},
	apperr.CodeServiceUnavailable:        {"Retry later"},
	apperr.CodeServiceTimeout:            {"Retry", "SIGNALR_REST_TIMEOUT"},
	apperr.CodeServiceOutcomeUnknown:     {"Do not resend", "twice"},
	apperr.CodeServiceCircuitOpen:        {"half-open", "/api/health"},
	apperr.CodeServiceError:              {"service's error code"},
	apperr.CodeServiceUnreachable:        {"DNS"},
	apperr.CodeServiceTLS:                {"TLS 1.2"},
	apperr.CodeServiceFeatureMissing:     {"api-version", "emulator"},
}

func checkMapping(t *testing.T, name string, err error, code string) {
	t.Helper()
	e := apperr.FromSignalR(err)
	if e == nil || e.Code != code {
		t.Errorf("%s: FromSignalR(%v) = %v, want code %s", name, err, e, code)
		return
	}
	hint := hintFor(e)
	for _, w := range serviceHints[code] {
		if !strings.Contains(hint, w) {
			t.Errorf("%s: hint of %s = %q, want it to mention %q", name, code, hint, w)
		}
	}
	if code == apperr.CodeServiceOutcomeUnknown && strings.Contains(hint, "Retry") {
		t.Errorf("%s: outcome-unknown hint says Retry: %q", name, hint)
	}
}

func TestEveryServiceCodeHasItsHintWords(t *testing.T) {
	for _, i := range apperr.All() {
		if strings.HasPrefix(i.Code, "service.") && i.Status != 0 {
			if _, ok := serviceHints[i.Code]; !ok {
				t.Errorf("%s has no hint check in serviceHints", i.Code)
			}
		}
	}
}

func TestFromSignalRStatuses(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		errorCode string
		op        func(*signalr.Client) error
		code      string
	}{
		{"send 400", 400, "", send, apperr.CodeServiceBadRequest},
		{"send 401", 401, "", send, apperr.CodeServiceUnauthorized},
		{"send 403", 403, "", send, apperr.CodeServiceForbidden},
		{"send 404", 404, "", send, apperr.CodeServiceNotFound},
		{"send 413", 413, "", send, apperr.CodeServiceBadRequest},
		{"send 429", 429, "", send, apperr.CodeServiceThrottled},
		{"send 500", 500, "", send, apperr.CodeServiceOutcomeUnknown},
		{"send 502", 502, "", send, apperr.CodeServiceOutcomeUnknown},
		{"send 503", 503, "", send, apperr.CodeServiceUnavailable},
		{"send 504", 504, "", send, apperr.CodeServiceOutcomeUnknown},
		{"group 404 gone connection", 404, "Error.Connection.NotExisted", addConn, apperr.CodeServiceConnectionNotFound},
		{"group 404 other", 404, "Error.Something", addConn, apperr.CodeServiceNotFound},
		{"group 408", 408, "", addConn, apperr.CodeServiceTimeout},
		{"group 500", 500, "", addConn, apperr.CodeServiceError},
		{"group 502", 502, "", addConn, apperr.CodeServiceUnavailable},
		{"group 504", 504, "", addConn, apperr.CodeServiceTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.errorCode != "" {
					w.Header().Set("x-ms-error-code", tc.errorCode)
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			err := tc.op(client(t, srv.URL, nil))
			checkMapping(t, tc.name, err, tc.code)
			if e := apperr.FromSignalR(err); tc.errorCode != "" && !strings.Contains(e.Message, tc.errorCode) {
				t.Errorf("message %q lacks the service's error code", e.Message)
			}
		})
	}
	if got := apperr.Status(apperr.CodeServiceConnectionNotFound); got != http.StatusNotFound {
		t.Errorf("service.connection_not_found answers %d, want 404", got)
	}
}

// cutServer reads each whole request and closes the connection without
// answering (after delay).
func cutServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	return "http://" + testutil.ServeTCP(t, func(conn net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		io.ReadAll(req.Body)
		if delay > 0 {
			conn.SetReadDeadline(time.Now().Add(delay))
			io.Copy(io.Discard, conn) // until the client gives up or the delay ends
		}
	})
}

func TestFromSignalRConnectionFailures(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()
	checkMapping(t, "refused", send(client(t, refused, nil)), apperr.CodeServiceUnreachable)

	cut := cutServer(t, 0)
	checkMapping(t, "send cut after written", send(client(t, cut, nil)), apperr.CodeServiceOutcomeUnknown)
	checkMapping(t, "group cut after written", addConn(client(t, cut, nil)), apperr.CodeServiceError)

	slow := cutServer(t, 5*time.Second)
	short := func(o *signalr.ClientOptions) { o.Retry.TryTimeout = 100 * time.Millisecond }
	checkMapping(t, "send timeout after written", send(client(t, slow, short)), apperr.CodeServiceOutcomeUnknown)
	checkMapping(t, "group timeout", addConn(client(t, slow, short)), apperr.CodeServiceTimeout)

	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) }))
	defer tlsSrv.Close()
	checkMapping(t, "untrusted certificate", send(client(t, tlsSrv.URL, nil)), apperr.CodeServiceTLS)

	ec, err := signalr.NewClient("http://127.0.0.1:1", &testutil.Credential{Err: errors.New("no identity")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMapping(t, "no Entra ID token", send(ec), apperr.CodeServiceUnauthorized)

	// Three 503s open a breaker of 1 failure; the next call fails fast.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	bc := client(t, down.URL, func(o *signalr.ClientOptions) {
		o.Breaker = signalr.BreakerOptions{Failures: 1, OpenTimeout: time.Hour}
	})
	send(bc)
	checkMapping(t, "breaker open", send(bc), apperr.CodeServiceCircuitOpen)

	checkMapping(t, "deadline", context.DeadlineExceeded, apperr.CodeServiceTimeout)
	checkMapping(t, "other", errors.New("x"), apperr.CodeServiceError)
}

func TestFromSignalRArguments(t *testing.T) {
	c := client(t, "http://127.0.0.1:1", nil)
	ctx := context.Background()
	msg := signalr.Message{Target: "t"}
	big := signalr.Message{Target: "t", Arguments: json.RawMessage(`["` + strings.Repeat("a", signalr.MaxPayloadSize) + `"]`)}
	neg := -time.Second
	cases := []struct {
		err  error
		code string
	}{
		{second(c.SendToAll(ctx, "1bad", msg, nil)), apperr.CodeBroadcastInvalidHub},
		{second(c.SendToGroup(ctx, "chat", " ", msg, nil)), apperr.CodeBroadcastInvalidGroup},
		{second(c.SendToUser(ctx, "chat", "", msg, nil)), apperr.CodeBroadcastMissingID},
		{second(c.SendToConnection(ctx, "chat", "", msg, nil)), apperr.CodeBroadcastMissingID},
		{second(c.SendToAll(ctx, "chat", signalr.Message{}, nil)), apperr.CodeBroadcastMissingTarget},
		{second(c.SendToAll(ctx, "chat", signalr.Message{Target: "t", Arguments: json.RawMessage(`{}`)}, nil)), apperr.CodeBroadcastInvalid},
		{second(c.AddUserToGroup(ctx, "chat", "g", "u", &signalr.AddUserToGroupOptions{TTL: &neg})), apperr.CodeBroadcastInvalid},
		{second(c.SendToAll(ctx, "chat", big, nil)), apperr.CodeBroadcastTooLarge},
	}
	for i, tc := range cases {
		if got := apperr.FromSignalR(tc.err); got.Code != tc.code {
			t.Errorf("case %d: %v -> %s, want %s", i, tc.err, got.Code, tc.code)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestFromSignalRConnectionStrings maps every kind of parse error (the
// parser's own tests check which input gives which kind).
func TestFromSignalRConnectionStrings(t *testing.T) {
	cases := []struct{ in, code string }{
		{"", apperr.CodeConfigConnStrMissing},
		{"Endpoint=https://a.example", apperr.CodeConfigConnStrMalformed},
		{"Endpoint=https://a.example;AccessKey=k;endpoint=https://b", apperr.CodeConfigConnStrDuplicate},
		{"AccessKey=k;Version=1.0", apperr.CodeConfigConnStrMissingEndpoint},
		{"Endpoint=nope;AccessKey=k", apperr.CodeConfigConnStrInvalidEndpoint},
		{"Endpoint=https://a.example;AccessKey=k;Version=2.0", apperr.CodeConfigConnStrInvalidVersion},
		{"Endpoint=https://a.example;AccessKey=k;Port=0", apperr.CodeConfigConnStrInvalidPort},
		{"Endpoint=https://a.example;AccessKey=k;ClientEndpoint=/x", apperr.CodeConfigConnStrInvalidClientEP},
		{"Endpoint=https://a.example;AccessKey=k;ServerEndpoint=ftp://x", apperr.CodeConfigConnStrInvalidServerEP},
		{"Endpoint=https://a.example;Version=1.0", apperr.CodeConfigConnStrMissingAccessKey},
		{"Endpoint=https://a.example;AuthType=azure.app;TenantId=t;ClientSecret=s", apperr.CodeConfigConnStrMissingClientID},
		{"Endpoint=https://a.example;AuthType=azure.app;ClientId=c;ClientSecret=s", apperr.CodeConfigConnStrMissingTenantID},
		{"Endpoint=https://a.example;AuthType=azure.app;ClientId=c;TenantId=t", apperr.CodeConfigConnStrMissingAppSecret},
	}
	for _, tc := range cases {
		_, err := signalr.ParseConnectionString(tc.in)
		e := apperr.FromSignalR(err)
		if e.Code != tc.code || e.Message == "" || hintFor(e) == "" {
			t.Errorf("%q -> %+v, want %s with a message and a hint", tc.in, e, tc.code)
		}
	}
}

// TestConnectionStringHintMentionsKeyList (moved from the SDK, whose errors
// no longer carry the app's hints).
func TestConnectionStringHintMentionsKeyList(t *testing.T) {
	for _, in := range []string{"", "x", "AccessKey=K;Version=1.0", "Endpoint=https://a.example;Version=1.0"} {
		_, err := signalr.ParseConnectionString(in)
		if h := hintFor(apperr.FromSignalR(err)); !strings.Contains(h, "az signalr key list -n NAME -g GROUP --query primaryConnectionString") {
			t.Errorf("%q: hint = %q, want the az signalr key list command", in, h)
		}
	}
}

func TestInvalidEndpointHintIsCapitalised(t *testing.T) {
	for _, i := range apperr.All() {
		if i.Fix != "" && strings.ToUpper(i.Fix[:1]) != i.Fix[:1] {
			t.Errorf("%s: hint %q starts in lower case", i.Code, i.Fix)
		}
	}
	_, err := signalr.ParseConnectionString("Endpoint=nope;AccessKey=k")
	if h := hintFor(apperr.FromSignalR(err)); !strings.HasPrefix(h, "Write Endpoint=") {
		t.Errorf("invalid endpoint hint = %q", h)
	}
}

// TestFromSignalRUpstream pins the upstream.* code of every kind of
// refused upstream call (the codes the SDK's tests asserted before the SDK
// reported kinds instead), and maps a refusal of the real validator.
func TestFromSignalRUpstream(t *testing.T) {
	cases := []struct {
		kind signalr.UpstreamErrorKind
		code string
	}{
		{signalr.UpstreamMissingHeader, "upstream.missing_header"},
		{signalr.UpstreamUnsupportedMediaType, "upstream.unsupported_media_type"},
		{signalr.UpstreamInvalidBody, "upstream.invalid_body"},
		{signalr.UpstreamBodyTooLarge, "upstream.body_too_large"},
		{signalr.UpstreamSignatureMissing, "upstream.signature_missing"},
		{signalr.UpstreamSignatureMalformed, "upstream.signature_malformed"},
		{signalr.UpstreamSignatureMismatch, "upstream.signature_mismatch"},
		{signalr.UpstreamTokenInvalid, "upstream.token_invalid"},
		{signalr.UpstreamUnauthenticated, "upstream.unauthenticated"},
		{signalr.UpstreamUnknownHub, "upstream.unknown_hub"},
		{signalr.UpstreamHandlerFailed, "upstream.event_failed"},
		{signalr.UpstreamNotConfigured, "upstream.not_configured"},
	}
	for _, tc := range cases {
		err := fmt.Errorf("wrapped: %w", &signalr.UpstreamError{Kind: tc.kind, Message: "m"})
		e := apperr.FromSignalR(err)
		if e.Code != tc.code || e.Message != "m" {
			t.Errorf("%s -> %+v, want %s with the SDK's message", tc.kind, e, tc.code)
		}
		if _, ok := apperr.Lookup(tc.code); !ok || hintFor(e) == "" {
			t.Errorf("%s: not registered or without a hint", tc.code)
		}
	}
	if got := len(cases); got != int(signalr.UpstreamNotConfigured) {
		t.Errorf("%d kinds pinned, the SDK has %d", got, int(signalr.UpstreamNotConfigured))
	}
	if e := apperr.FromSignalR(&signalr.UpstreamError{Kind: 99}); e.Code != apperr.CodeInternal {
		t.Errorf("unknown kind -> %s", e.Code)
	}

	v, err := signalr.NewUpstreamValidator(signalr.UpstreamOptions{AccessKeys: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/api/upstream", strings.NewReader(`{"type":10}`))
	r.Header.Set("X-ASRS-Connection-Id", "c1")
	r.Header.Set("X-ASRS-Hub", "chat")
	r.Header.Set("X-ASRS-Category", "connections")
	r.Header.Set("X-ASRS-Event", "connected")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-ASRS-Signature", signalr.UpstreamSignature("c1", "another-key"))
	_, err = v.Parse(r)
	if e := apperr.FromSignalR(err); e.Code != apperr.CodeUpstreamSignatureMismatch || apperr.Status(e.Code) != http.StatusUnauthorized {
		t.Errorf("wrong key -> %+v", e)
	}
}
