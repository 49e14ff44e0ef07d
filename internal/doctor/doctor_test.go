package doctor_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/doctor"
	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

func TestHealthyAllPass(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	cs := connStr(svc.srv.URL, testKey)
	h := newFakeHandler(t, cs, testKey)
	cfg := baseConfig(t, cs)
	cfg.CORSAllowedOrigins = []string{"http://localhost:5173"}
	o := options(writeApp(t, nil), cfg)
	o.URL = h.URL + "/api"
	o.Origin = "http://localhost:5173"
	fs := doctor.Run(context.Background(), o)
	for _, f := range fs {
		if f.Status != doctor.Pass {
			t.Errorf("not PASS: %s", f)
		}
	}
	for _, c := range []string{"settings", "host.json", "function negotiate", "function broadcast", "executable", "connection string",
		"scheme default", "dns default", "tcp default", "health default", "clock default", "auth default", "token size", "cors", "cors preflight", "negotiate", "service negotiate", "service handshake"} {
		get(t, fs, c)
	}
	if doctor.Failed(fs) {
		t.Error("Failed reports a failure")
	}
	if svc.restOK.Load() != 1 || svc.clientOK.Load() != 1 || svc.handshake.Load() != 1 {
		t.Errorf("verified REST calls %d, client negotiates %d, handshakes %d; want 1, 1 and 1", svc.restOK.Load(), svc.clientOK.Load(), svc.handshake.Load())
	}
	n := get(t, fs, "negotiate")
	if n.Details["signature"] != "verifies with AzureSignalRConnectionString" || n.Details["returnedUrl"] != svc.srv.URL+"/client/?hub=chat" {
		t.Errorf("negotiate details %v", n.Details)
	}
	for _, f := range fs {
		if strings.Contains(f.String(), testKey) || strings.Contains(strings.Join(mapValues(f.Details), " "), testKey) {
			t.Errorf("finding %q prints the access key", f.Check)
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestMainJSON runs `handler doctor --json` with settings from the
// environment (server.Load) and checks the exit status and the shape.
func TestMainJSON(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	cs := connStr(svc.srv.URL, testKey)
	h := newFakeHandler(t, cs, testKey)
	env := server.Env{"AzureSignalRConnectionString": cs, "CORS_ALLOWED_ORIGINS": "http://localhost:5173"}
	dir := writeApp(t, nil)
	var out, errOut bytes.Buffer
	err := doctor.Main(context.Background(), []string{"--json", "--dir", dir, "--url", h.URL + "/api", "--origin", "http://localhost:5173", "--timeout", "2s"}, env, &out, &errOut)
	if err != nil {
		t.Fatalf("Main: %v\n%s%s", err, out.String(), errOut.String())
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out.String())
	}
	if len(raw) < 10 {
		t.Fatalf("%d findings", len(raw))
	}
	for _, f := range raw {
		if len(f) != 6 {
			t.Errorf("finding has %d keys, want check,status,code,message,fix,details: %v", len(f), f)
		}
		for _, k := range []string{"check", "status", "code", "message", "fix"} {
			var s string
			if err := json.Unmarshal(f[k], &s); err != nil {
				t.Errorf("%s is not a string: %s", k, f[k])
			}
		}
		var st string
		json.Unmarshal(f["status"], &st)
		if st != "PASS" {
			t.Errorf("status %s in %s", st, f["check"])
		}
		var d map[string]string
		if err := json.Unmarshal(f["details"], &d); err != nil || d == nil {
			t.Errorf("details is not an object: %s", f["details"])
		}
	}

	// The same run with a wrong key fails: non-zero exit, FAIL in the text.
	env["AzureSignalRConnectionString"] = connStr(svc.srv.URL, otherKey)
	out.Reset()
	err = doctor.Main(context.Background(), []string{"--dir", dir, "--timeout", "2s"}, env, &out, &errOut)
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("Main with a wrong key: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "FAIL  auth default") || !strings.Contains(out.String(), "[service.unauthorized]") {
		t.Errorf("text output lacks the auth failure:\n%s", out.String())
	}
	if strings.Contains(out.String(), otherKey) {
		t.Error("the output prints the access key")
	}
}

func TestMainUsage(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := doctor.Main(context.Background(), []string{"--claims", "novalue"}, nil, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--claims") {
		t.Errorf("bad --claims: %v", err)
	}
	if err := doctor.Main(context.Background(), []string{"extra"}, nil, &out, &errOut); err == nil {
		t.Error("an extra argument is accepted")
	}
	if err := doctor.Main(context.Background(), []string{"--timeout", "0s"}, nil, &out, &errOut); err == nil {
		t.Error("--timeout 0 is accepted")
	}
}

func TestTLS11Fails(t *testing.T) {
	t.Parallel()
	f := &fakeService{key: testKey}
	s, pool := newTLSService(t, f, tls.VersionTLS10, tls.VersionTLS11)
	o := options(writeApp(t, nil), baseConfig(t, connStr(s.URL, testKey)))
	o.RootCAs = pool
	fs := doctor.Run(context.Background(), o)
	tf := expect(t, fs, "tls default", doctor.Fail, apperr.CodeServiceTLS, "TLS 1.1", "below the TLS 1.2 minimum", "a TLS 1.2 client (like the handler) is refused")
	if tf.Details["version"] != "TLS 1.1" || !strings.HasPrefix(tf.Details["tls12Client"], "refused") {
		t.Errorf("details %v", tf.Details)
	}
	expect(t, fs, "endpoint default", doctor.Skip, "")
	if f.restOK.Load() != 0 {
		t.Error("REST calls were made over TLS 1.1")
	}
}

func TestTLS12Passes(t *testing.T) {
	t.Parallel()
	f := &fakeService{key: testKey}
	s, pool := newTLSService(t, f, tls.VersionTLS12, 0)
	o := options(writeApp(t, nil), baseConfig(t, connStr(s.URL, testKey)))
	o.RootCAs = pool
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "tls default", doctor.Pass, "")
	c := expect(t, fs, "certificate default", doctor.Pass, "")
	if c.Details["notAfter"] == "" || !strings.Contains(c.Details["names"], "127.0.0.1") {
		t.Errorf("certificate details %v", c.Details)
	}
	expect(t, fs, "auth default", doctor.Pass, "")
	if f.restOK.Load() != 1 {
		t.Errorf("verified REST calls %d, want 1", f.restOK.Load())
	}
}

func TestTLSHostnameMismatch(t *testing.T) {
	t.Parallel()
	f := &fakeService{key: testKey}
	s, pool := newTLSService(t, f, tls.VersionTLS12, 0)
	// The test certificate names example.com and 127.0.0.1, not localhost.
	ep := "https://localhost:" + portOf(s.URL)
	o := options(writeApp(t, nil), baseConfig(t, connStr(ep, testKey)))
	o.RootCAs = pool
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "certificate default", doctor.Fail, apperr.CodeServiceTLS, "hostname mismatch", "example.com", "not localhost")
}

func TestTLSUnknownAuthority(t *testing.T) {
	t.Parallel()
	f := &fakeService{key: testKey}
	s, _ := newTLSService(t, f, tls.VersionTLS12, 0)
	fs := doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, connStr(s.URL, testKey))))
	expect(t, fs, "certificate default", doctor.Fail, apperr.CodeServiceTLS, "unknown authority")
}

func TestWrongKeyIs401(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	fs := doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, connStr(svc.srv.URL, otherKey))))
	f := expect(t, fs, "auth default", doctor.Fail, apperr.CodeServiceUnauthorized, "401", "wrong or rotated key", "az signalr key list", "primary vs secondary", "invalid_token")
	if !strings.Contains(f.Fix, "az signalr key list") {
		t.Errorf("fix %q", f.Fix)
	}
	if svc.restOK.Load() != 0 {
		t.Error("the fake accepted a token signed with another key")
	}
}

func TestForbiddenIs403(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	svc.authStatus = http.StatusForbidden
	fs := doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, connStr(svc.srv.URL, testKey))))
	expect(t, fs, "auth default", doctor.Fail, apperr.CodeServiceForbidden, "403", "missing role or network rule")
}

func TestClockSkew(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	svc.dateOffset = 10 * time.Minute
	fs := doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, connStr(svc.srv.URL, testKey))))
	f := expect(t, fs, "clock default", doctor.Fail, apperr.CodeServiceClockSkew, "behind the service's", "exp, nbf")
	if n, err := strconv.Atoi(f.Details["skewSeconds"]); err != nil || n < 595 || n > 605 {
		t.Errorf("skew %q", f.Details["skewSeconds"])
	}

	svc2 := newFakeService(t, testKey)
	svc2.dateOffset = -time.Minute
	fs = doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, connStr(svc2.srv.URL, testKey))))
	expect(t, fs, "clock default", doctor.Warn, apperr.CodeServiceClockSkew, "ahead of")
}

func TestRouteMismatch(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"negotiate/function.json": strings.Replace(negotiateJSON, `"route": "negotiate"`, `"route": "negotiate2"`, 1)})
	fs := doctor.Run(context.Background(), options(dir, baseConfig(t, "")))
	expect(t, fs, "function negotiate", doctor.Fail, apperr.CodeRouteNotFound, `route "negotiate2"`, "/api/negotiate2", "the handler serves /api/negotiate")
	expect(t, fs, "function broadcast", doctor.Pass, "")

	// The host and the handler both ignore case in routes: no finding.
	dir = writeApp(t, map[string]string{"negotiate/function.json": strings.Replace(negotiateJSON, `"route": "negotiate"`, `"route": "Negotiate"`, 1)})
	fs = doctor.Run(context.Background(), options(dir, baseConfig(t, "")))
	expect(t, fs, "function negotiate", doctor.Pass, "")
}

func TestRoutePrefixAndExtraBindings(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"host.json": strings.Replace(hostJSON, `"routePrefix": "api"`, `"routePrefix": ""`, 1),
		"broadcast/function.json": `{"bindings": [
  {"type": "httpTrigger", "direction": "in", "name": "req", "methods": ["post"]},
  {"type": "http", "direction": "out", "name": "res"},
  {"type": "signalR", "direction": "out", "name": "msgs", "hubName": "chat"}]}`,
	})
	fs := doctor.Run(context.Background(), options(dir, baseConfig(t, "")))
	expect(t, fs, "host.json", doctor.Fail, apperr.CodeRouteNotFound, `routePrefix is ""`, "/negotiate")
	expect(t, fs, "function broadcast", doctor.Fail, apperr.CodeConfigFunctionJSON, `signalR "msgs" (out)`, "silently turns request forwarding off")
}

func TestMissingOptionsWithCORS(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"negotiate/function.json": strings.Replace(negotiateJSON, `["get", "post", "options"]`, `["post"]`, 1)})
	cfg := baseConfig(t, "")
	cfg.CORSAllowedOrigins = []string{"http://localhost:5173"}
	fs := doctor.Run(context.Background(), options(dir, cfg))
	expect(t, fs, "function negotiate", doctor.Fail, apperr.CodeMethodNotAllowed, "lack options", "preflight")
}

func TestExecutableWithoutRunBit(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, nil)
	if err := os.Chmod(filepath.Join(dir, "handler"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := doctor.Run(context.Background(), options(dir, baseConfig(t, "")))
	f := expect(t, fs, "executable", doctor.Fail, apperr.CodeConfigExecutable, "no run bit")
	if !strings.Contains(f.Fix, "chmod +x handler") {
		t.Errorf("fix %q", f.Fix)
	}

	os.Remove(filepath.Join(dir, "handler"))
	fs = doctor.Run(context.Background(), options(dir, baseConfig(t, "")))
	expect(t, fs, "executable", doctor.Fail, apperr.CodeConfigExecutable, "does not exist")
}

func TestPublishNeedsLinuxAMD64(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		content []byte
		status  doctor.Status
		part    string
	}{
		{"mach-o arm64", machoArm64Header(), doctor.Fail, "darwin/arm64 Mach-O"},
		{"elf arm64", elfHeader(emAArch64), doctor.Fail, "linux/arm64 ELF"},
		{"pe", append([]byte("MZ"), make([]byte, 200)...), doctor.Fail, "windows"},
		{"text", []byte("not a binary at all"), doctor.Fail, "no ELF header"},
		{"elf amd64", elfHeader(emX8664), doctor.Pass, "static linux/amd64 ELF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeApp(t, nil)
			if err := os.WriteFile(filepath.Join(dir, "handler"), c.content, 0o755); err != nil {
				t.Fatal(err)
			}
			o := options(dir, baseConfig(t, ""))
			o.Publish = true
			fs := doctor.Run(context.Background(), o)
			code := apperr.CodeConfigExecutable
			if c.status == doctor.Pass {
				code = ""
			}
			f := expect(t, fs, "executable", c.status, code, c.part)
			if c.status == doctor.Fail && !strings.Contains(f.Fix, "make publish") {
				t.Errorf("fix %q lacks make publish", f.Fix)
			}
		})
	}
}

func TestCORSOriginNotAllowed(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t, "")
	cfg.CORSAllowedOrigins = []string{"https://app.example"}
	o := options(writeApp(t, nil), cfg)
	o.Origin = "http://evil.example"
	fs := doctor.Run(context.Background(), o)
	f := expect(t, fs, "cors", doctor.Fail, apperr.CodeCORSOriginDenied, "http://evil.example", "not in CORS_ALLOWED_ORIGINS", "blocked")
	if !strings.Contains(f.Fix, "CORS_ALLOWED_ORIGINS") {
		t.Errorf("fix %q", f.Fix)
	}

	cfg = baseConfig(t, "")
	cfg.CORSAllowedOrigins = []string{"*"}
	o = options(writeApp(t, nil), cfg)
	o.Origin = "http://localhost:5173"
	fs = doctor.Run(context.Background(), o)
	expect(t, fs, "cors", doctor.Fail, apperr.CodeConfigCORSWildcardCredentials, "withCredentials")
}

func TestTokenTooLarge(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	cfg := baseConfig(t, connStr(svc.srv.URL, testKey))
	cfg.ClaimTypes = []string{"groups", "name"}
	o := options(writeApp(t, nil), cfg)
	o.User = "alice"
	for i := range 80 {
		o.Claims = append(o.Claims, signalr.Claim{Type: "groups", Value: fmt.Sprintf("group-%030d", i)})
	}
	o.Claims = append(o.Claims, signalr.Claim{Type: "name", Value: "Alice"}, signalr.Claim{Type: "dept", Value: "R&D"})
	fs := doctor.Run(context.Background(), o)
	f := expect(t, fs, "token size", doctor.Fail, apperr.CodeNegotiateTokenTooLarge, "more than the service's 4096", `groups (`)
	if f.Details["notCopied"] != "dept" {
		t.Errorf("notCopied %q", f.Details["notCopied"])
	}

	o.Claims = o.Claims[80:]
	fs = doctor.Run(context.Background(), o)
	f = expect(t, fs, "token size", doctor.Pass, "", "of 4096", "not copied (not in SIGNALR_CLAIM_TYPES): dept")
	if f.Details["claims"] != "1" {
		t.Errorf("claims %q", f.Details["claims"])
	}
}

// TestSilentServiceTimesOut: a service that accepts TCP but never answers
// is reported as a timeout within the bound, not a hang.
func TestSilentServiceTimesOut(t *testing.T) {
	t.Parallel()
	silent := make(chan struct{})
	t.Cleanup(func() { close(silent) })
	addr := testutil.ServeTCP(t, func(net.Conn) { <-silent }) // read nothing, answer nothing
	o := options(writeApp(t, nil), baseConfig(t, connStr("http://"+addr, testKey)))
	o.Timeout = 300 * time.Millisecond
	start := time.Now()
	fs := doctor.Run(context.Background(), o)
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Run took %s with a 300ms step timeout", el)
	}
	expect(t, fs, "tcp default", doctor.Pass, "")
	expect(t, fs, "health default", doctor.Fail, apperr.CodeServiceTimeout, "no answer within 300ms")
	expect(t, fs, "auth default", doctor.Skip, "")

	// The same silent server as a TLS endpoint: the handshake times out.
	o = options(writeApp(t, nil), baseConfig(t, connStr("https://"+addr, testKey)))
	o.Timeout = 300 * time.Millisecond
	start = time.Now()
	fs = doctor.Run(context.Background(), o)
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Run took %s with a 300ms step timeout", el)
	}
	expect(t, fs, "tls default", doctor.Fail, apperr.CodeServiceTimeout, "no answer within 300ms")
}

func TestNoConnectionString(t *testing.T) {
	t.Parallel()
	fs := doctor.Run(context.Background(), options(writeApp(t, nil), baseConfig(t, "")))
	expect(t, fs, "connection string", doctor.Fail, apperr.CodeConfigConnStrMissing, "not set")
	expect(t, fs, "endpoints", doctor.Skip, "", "checks skipped")
	expect(t, fs, "token size", doctor.Pass, "")
}

func TestConnectionStringErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cs, code, key string
		status        doctor.Status
	}{
		{"Endpoint=https://x.service.signalr.net;Version=1.0;", apperr.CodeConfigConnStrMissingAccessKey, "AccessKey", doctor.Fail},
		{"Endpoint=x.service.signalr.net;AccessKey=" + testKey + ";", apperr.CodeConfigConnStrInvalidEndpoint, "Endpoint", doctor.Fail},
		{"Endpoint=https://x;Port=99999;AccessKey=" + testKey + ";", apperr.CodeConfigConnStrInvalidPort, "Port", doctor.Fail},
		{"Endpoint=http://127.0.0.1:1;AccessKey=" + testKey + ";", apperr.CodeConfigConnStrMissingVersion, "", doctor.Warn},
	}
	for _, c := range cases {
		o := options(writeApp(t, nil), baseConfig(t, c.cs))
		o.Timeout = 500 * time.Millisecond
		fs := doctor.Run(context.Background(), o)
		f := expect(t, fs, "connection string", c.status, c.code)
		if f.Details["key"] != c.key {
			t.Errorf("%s: key %q, want %q", c.cs[:20], f.Details["key"], c.key)
		}
		if strings.Contains(f.String(), testKey) {
			t.Errorf("the finding prints the access key: %s", f)
		}
	}
}

func TestMultipleEndpoints(t *testing.T) {
	t.Parallel()
	a := newFakeService(t, testKey)
	b := newFakeService(t, otherKey)
	o := options(writeApp(t, nil), baseConfig(t, connStr(a.srv.URL, testKey)))
	o.Environ = func() []string {
		return []string{"PATH=/bin", "Azure__SignalR__Endpoints__east__secondary=" + connStr(b.srv.URL, testKey), "Azure__SignalR__Endpoints____primary=x"}
	}
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "auth default", doctor.Pass, "")
	expect(t, fs, "connection string east", doctor.Pass, "")
	expect(t, fs, "auth east", doctor.Fail, apperr.CodeServiceUnauthorized)
	expect(t, fs, "connection string", doctor.Fail, apperr.CodeConfigEndpoints, "has no endpoint name")
}

func TestNegotiateRouteDiagnosis(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	cs := connStr(svc.srv.URL, testKey)
	h := newFakeHandler(t, cs, testKey)
	o := options(writeApp(t, nil), baseConfig(t, cs))
	o.URL = h.URL + "/api/negotiate"
	fs := doctor.Run(context.Background(), o)
	f := expect(t, fs, "negotiate", doctor.Fail, apperr.CodeRouteNotFound, "404", "already ends in /negotiate", "/negotiate/negotiate")
	if f.Fix != "pass the base URL ending in /api" {
		t.Errorf("fix %q is not the handler's hint", f.Fix)
	}
}

func TestNegotiateNotJSON(t *testing.T) {
	t.Parallel()
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><html>Function host is running</html>")
	}))
	t.Cleanup(h.Close)
	o := options(writeApp(t, nil), baseConfig(t, ""))
	o.URL = h.URL + "/api"
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "negotiate", doctor.Fail, apperr.CodeHandlerBadResponse, "not JSON", "<!DOCTYPE html>")
}

// TestServiceRejectsClientToken: the running handler signs with a key the
// service does not have; the second negotiate's 401 is explained.
func TestServiceRejectsClientToken(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	cs := connStr(svc.srv.URL, testKey)
	h := newFakeHandler(t, cs, otherKey)
	o := options(writeApp(t, nil), baseConfig(t, cs))
	o.URL = h.URL + "/api"
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "negotiate", doctor.Warn, apperr.CodeServiceUnauthorized, "signature does not verify")
	expect(t, fs, "service negotiate", doctor.Fail, apperr.CodeServiceUnauthorized, "401", "the key", "invalid token")
	if svc.clientOK.Load() != 0 {
		t.Error("the fake accepted a token signed with another key")
	}
}

func TestNegotiateUnreachable(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	o := options(writeApp(t, nil), baseConfig(t, ""))
	o.URL = "http://" + addr + "/api"
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "negotiate", doctor.Fail, apperr.CodeHandlerUnreachable, "connection refused")
}

func TestWriteTextAndJSON(t *testing.T) {
	t.Parallel()
	fs := []doctor.Finding{
		{Check: "a", Status: doctor.Pass, Message: "fine"},
		{Check: "longer", Status: doctor.Fail, Code: apperr.CodeServiceTLS, Message: "old TLS", Fix: "upgrade"},
	}
	var b bytes.Buffer
	if err := doctor.WriteText(&b, fs); err != nil {
		t.Fatal(err)
	}
	want := "PASS  a       fine\nFAIL  longer  [service.tls] old TLS  → upgrade\n\n1 passed, 0 warnings, 1 failed, 0 skipped\n"
	if b.String() != want {
		t.Errorf("text:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	if err := doctor.WriteJSON(&b, fs); err != nil {
		t.Fatal(err)
	}
	var back []doctor.Finding
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[1].Code != apperr.CodeServiceTLS || back[1].Fix != "upgrade" || back[0].Details == nil {
		t.Errorf("round trip: %+v", back)
	}
	if !strings.Contains(b.String(), `"details": {}`) {
		t.Errorf("empty details are not an object:\n%s", b.String())
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	f := doctor.Explain(apperr.New(apperr.CodeConfigCORSWildcardCredentials, "CORS_ALLOWED_ORIGINS contains *", ""))
	if f.Check != "settings" || f.Status != doctor.Fail || f.Code != apperr.CodeConfigCORSWildcardCredentials || !strings.Contains(f.Fix, "exact origins") {
		t.Errorf("apperr: %+v", f)
	}
	_, err := signalr.ParseConnectionString("Endpoint=https://x;AccessKey=" + testKey + ";Port=0;")
	f = doctor.Explain(err)
	if f.Code != apperr.CodeConfigConnStrInvalidPort || f.Details["key"] != "Port" || f.Fix == "" || strings.Contains(f.String(), testKey) {
		t.Errorf("connection string: %+v", f)
	}
	f = doctor.Explain(errors.New("boom"))
	if f.Code != apperr.CodeConfigInvalid || !strings.Contains(f.Message, "boom") {
		t.Errorf("plain error: %+v", f)
	}
	if f := doctor.Explain(nil); f.Status != doctor.Pass {
		t.Errorf("nil: %+v", f)
	}
}

func TestSettingsErrorKeepsGoing(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t, "")
	o := options(writeApp(t, nil), cfg)
	o.ConfigErr = apperr.New(apperr.CodeConfigInvalid, "setting SIGNALR_TOKEN_LIFETIME: 0s is outside 1m0s..24h0m0s", "")
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "settings", doctor.Fail, apperr.CodeConfigInvalid, "SIGNALR_TOKEN_LIFETIME")
	expect(t, fs, "host.json", doctor.Pass, "")
	expect(t, fs, "token size", doctor.Pass, "")
}

func TestParseClaims(t *testing.T) {
	t.Parallel()
	c, err := doctor.ParseClaims("role=admin, role=ops,name=Ada=Lovelace,")
	if err != nil {
		t.Fatal(err)
	}
	want := []signalr.Claim{{Type: "role", Value: "admin"}, {Type: "role", Value: "ops"}, {Type: "name", Value: "Ada=Lovelace"}}
	if len(c) != len(want) {
		t.Fatalf("got %v", c)
	}
	for i := range want {
		if c[i] != want[i] {
			t.Errorf("%d: %v, want %v", i, c[i], want[i])
		}
	}
	for _, bad := range []string{"novalue", "=x", " =x"} {
		if _, err := doctor.ParseClaims(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLivePreflightRejected(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	cs := connStr(svc.srv.URL, testKey)
	h := newFakeHandler(t, cs, testKey)
	o := options(writeApp(t, nil), baseConfig(t, cs))
	o.URL = h.URL + "/api"
	o.Origin = "http://other.example:8080"
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "cors preflight", doctor.Fail, apperr.CodeCORSOriginDenied, "http://other.example:8080", "the preflight answered 404")
}

// TestMainReadsLocalSettings: without the settings in the environment, the
// doctor reads local.settings.json Values as `func start` passes them, and
// Host.CORS answers CORS under func start.
func TestMainReadsLocalSettings(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	ls, _ := json.Marshal(map[string]any{
		"IsEncrypted": false,
		"Values": map[string]string{
			"FUNCTIONS_WORKER_RUNTIME":     "custom",
			"AzureSignalRConnectionString": connStr(svc.srv.URL, testKey),
			"ALLOW_ANONYMOUS":              "true",
		},
		"Host": map[string]any{"CORS": "http://localhost:5173,http://127.0.0.1:5173", "CORSCredentials": true},
	})
	dir := writeApp(t, map[string]string{"local.settings.json": string(ls)})
	var out, errOut bytes.Buffer
	err := doctor.Main(context.Background(), []string{"--json", "--dir", dir, "--origin", "http://localhost:5173", "--timeout", "2s"}, nil, &out, &errOut)
	var fs []doctor.Finding
	if jerr := json.Unmarshal(out.Bytes(), &fs); jerr != nil {
		t.Fatalf("%v\n%s", jerr, out.String())
	}
	if err != nil {
		t.Fatalf("Main: %v\n%s", err, dump(fs))
	}
	f := expect(t, fs, "local.settings.json", doctor.Pass, "", "3 settings read")
	if f.Details["applied"] != "ALLOW_ANONYMOUS,AzureSignalRConnectionString,FUNCTIONS_WORKER_RUNTIME" {
		t.Errorf("applied %q", f.Details["applied"])
	}
	expect(t, fs, "auth default", doctor.Pass, "")
	expect(t, fs, "cors", doctor.Pass, "", "Host.CORS", "func start")
	if svc.restOK.Load() != 1 {
		t.Errorf("verified REST calls %d, want 1", svc.restOK.Load())
	}
}

func TestLocalSettingsProblems(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"local.settings.json": `{"Values": {"FUNCTIONS_WORKER_RUNTIME": "node", "ALLOW_ANONYMOUS": true}, "Host": {"CORS": "http://localhost:5173"}}`})
	var out, errOut bytes.Buffer
	err := doctor.Main(context.Background(), []string{"--json", "--dir", dir, "--origin", "http://localhost:5173"}, nil, &out, &errOut)
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("Main: %v", err)
	}
	var fs []doctor.Finding
	if err := json.Unmarshal(out.Bytes(), &fs); err != nil {
		t.Fatal(err)
	}
	expect(t, fs, "local.settings.json", doctor.Fail, apperr.CodeConfigInvalid, `FUNCTIONS_WORKER_RUNTIME is "node"`)
	var nonString bool
	for _, f := range fs {
		if f.Check == "local.settings.json" && strings.Contains(f.Message, "ALLOW_ANONYMOUS are not strings") {
			nonString = true
		}
	}
	if !nonString {
		t.Errorf("no finding for the non-string value:\n%s", dump(fs))
	}
	expect(t, fs, "cors", doctor.Fail, apperr.CodeCORSOriginDenied, "CORSCredentials is not true")
}

// TestRepositoryAppLayout runs the app-layout checks on this repository's
// own host.json and function folders: they must match what the handler
// serves.
func TestRepositoryAppLayout(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	fs := doctor.Run(context.Background(), options("../..", baseConfig(t, connStr(svc.srv.URL, testKey))))
	seen := 0
	for _, f := range fs {
		if f.Check == "host.json" || strings.HasPrefix(f.Check, "function ") {
			seen++
			if f.Status != doctor.Pass {
				t.Errorf("repository %s", f)
			}
		}
	}
	if seen < 4 {
		t.Errorf("only %d app-layout findings: %v", seen, fs)
	}
}
