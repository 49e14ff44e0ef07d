package doctor_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/doctor"
)

// runAgainstEmulator serves the real emulator in mode over loopback, a fake
// handler negotiating for it, and runs the doctor end to end.
func runAgainstEmulator(t *testing.T, mode string) []doctor.Finding {
	t.Helper()
	em := emulator.New(emulator.Options{
		AccessKey:   testKey,
		ServiceMode: mode,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	srv := httptest.NewServer(em)
	t.Cleanup(func() {
		_ = em.Close()
		srv.Close()
	})
	cs := em.ConnectionString(srv.URL)
	h := newFakeHandler(t, cs, testKey)
	o := options(writeApp(t, nil), baseConfig(t, cs))
	o.URL = h.URL + "/api"
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "negotiate", doctor.Pass, "")
	expect(t, fs, "service negotiate", doctor.Pass, "", "WebSockets, ServerSentEvents, LongPolling")
	return fs
}

// TestHandshakeEmulatorServerless: the emulator in serverless mode accepts
// the handshake.
func TestHandshakeEmulatorServerless(t *testing.T) {
	t.Parallel()
	fs := runAgainstEmulator(t, emulator.ServiceModeServerless)
	f := expect(t, fs, "service handshake", doctor.Pass, "", "accepted ({})", "/client/?hub=chat&id=<connectionToken>")
	if !strings.HasPrefix(f.Details["url"], "ws://127.0.0.1:") || f.Fix != "" {
		t.Errorf("details %v fix %q", f.Details, f.Fix)
	}
	if doctor.Failed(fs) {
		t.Errorf("a check failed against the serverless emulator:\n%s", dump(fs))
	}
}

// TestHandshakeEmulatorDefaultMode: the classic misconfiguration, a
// service in Default mode without app servers: negotiate passes, the
// handshake is refused, and the doctor names the mode and the fix.
func TestHandshakeEmulatorDefaultMode(t *testing.T) {
	t.Parallel()
	fs := runAgainstEmulator(t, emulator.ServiceModeDefault)
	f := expect(t, fs, "service handshake", doctor.Fail, apperr.CodeServiceNotServerless,
		emulator.DefaultModeNoServerError, "Default mode", "negotiate succeeded")
	info, _ := apperr.Lookup(apperr.CodeServiceNotServerless)
	if f.Fix != info.Fix || !strings.Contains(f.Fix, "az signalr update -n NAME -g GROUP --service-mode Serverless") {
		t.Errorf("fix %q, want the registry's %q", f.Fix, info.Fix)
	}
	if f.Details["handshakeError"] != emulator.DefaultModeNoServerError {
		t.Errorf("details %v", f.Details)
	}
	if !doctor.Failed(fs) {
		t.Error("Failed does not report the refused handshake")
	}
	if !strings.Contains(f.String(), "[service.not_serverless]") {
		t.Errorf("line %q lacks the code", f.String())
	}
}

// runAgainstFake runs the doctor end to end against a fake service set up
// by configure.
func runAgainstFake(t *testing.T, configure func(*fakeService)) []doctor.Finding {
	t.Helper()
	svc := newFakeService(t, testKey)
	configure(svc)
	cs := connStr(svc.srv.URL, testKey)
	h := newFakeHandler(t, cs, testKey)
	o := options(writeApp(t, nil), baseConfig(t, cs))
	o.URL = h.URL + "/api"
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "service negotiate", doctor.Pass, "")
	return fs
}

// TestHandshakeUpgradeRefused: a refused upgrade is a FAIL with the status
// and the service's explanation, JSON or plain text.
func TestHandshakeUpgradeRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		code   string
		parts  []string
	}{
		{http.StatusForbidden, `{"code":"Error.Forbidden","message":"client traffic is blocked by a network rule"}`, apperr.CodeServiceForbidden, []string{"with 403", "Error.Refused", "client traffic is blocked by a network rule"}},
		{http.StatusUnauthorized, `{"message":"token expired"}`, apperr.CodeServiceUnauthorized, []string{"with 401", "token expired", "refused at connect"}},
		{http.StatusNotFound, "no such connection\n", apperr.CodeServiceNotFound, []string{"with 404", "no such connection", "connection token"}},
		{http.StatusServiceUnavailable, "", apperr.CodeServiceUnavailable, []string{"with 503"}},
	} {
		fs := runAgainstFake(t, func(f *fakeService) { f.upgradeStatus, f.upgradeBody = tc.status, tc.body })
		f := expect(t, fs, "service handshake", doctor.Fail, tc.code, tc.parts...)
		if f.Details["status"] != strconv.Itoa(tc.status) {
			t.Errorf("%d: details %v", tc.status, f.Details)
		}
		if f.Fix == "" {
			t.Errorf("%d: no fix", tc.status)
		}
		if strings.Contains(f.String(), "id=def") || strings.Contains(f.Details["url"], "id=def") {
			t.Errorf("%d: the connection token is printed: %s", tc.status, f)
		}
	}
}

// TestHandshakeOtherError: a handshake error that is not about the mode is
// reported with its text as service.error.
func TestHandshakeOtherError(t *testing.T) {
	t.Parallel()
	fs := runAgainstFake(t, func(f *fakeService) { f.reply = `{"error":"The protocol 'json' is not supported."}` })
	f := expect(t, fs, "service handshake", doctor.Fail, apperr.CodeServiceError, "The protocol 'json' is not supported.")
	if f.Details["handshakeError"] != "The protocol 'json' is not supported." {
		t.Errorf("details %v", f.Details)
	}
	fs = runAgainstFake(t, func(f *fakeService) { f.reply = `<html>` })
	expect(t, fs, "service handshake", doctor.Fail, apperr.CodeServiceError, "not the JSON object", "<html>")
	fs = runAgainstFake(t, func(f *fakeService) { f.reply = `{"type":1,"target":"x","arguments":[]}` })
	expect(t, fs, "service handshake", doctor.Fail, apperr.CodeServiceError, "a hub message instead of the handshake answer")
}

// TestHandshakeSkippedWithoutWebSockets: the doctor checks the handshake
// over WebSockets only and says so when they are not offered.
func TestHandshakeSkippedWithoutWebSockets(t *testing.T) {
	t.Parallel()
	fs := runAgainstFake(t, func(f *fakeService) {
		f.transports = `[{"transport":"ServerSentEvents","transferFormats":["Text"]},{"transport":"LongPolling","transferFormats":["Text","Binary"]}]`
	})
	expect(t, fs, "service handshake", doctor.Skip, "", "did not offer WebSockets", "ServerSentEvents, LongPolling")
}

// TestHandshakeNoAnswer: a service that closes the socket, or never
// answers, instead of answering the handshake.
func TestHandshakeNoAnswer(t *testing.T) {
	t.Parallel()
	fs := runAgainstFake(t, func(f *fakeService) { f.closeWith = websocket.StatusPolicyViolation })
	f := expect(t, fs, "service handshake", doctor.Fail, apperr.CodeServiceError, "closed the WebSocket with status 1008", "hub not available", "before answering the handshake")
	if f.Details["closeStatus"] != "1008" {
		t.Errorf("details %v", f.Details)
	}
	start := time.Now()
	fs = runAgainstFake(t, func(f *fakeService) { f.silent = true })
	expect(t, fs, "service handshake", doctor.Fail, apperr.CodeServiceTimeout, "did not answer the handshake within 2s")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the doctor took %v; each step is bounded by 2s", d)
	}
}
