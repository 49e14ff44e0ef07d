package doctor_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/internal/doctor"
	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/signalr"
)

const (
	testKey  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
	otherKey = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210ZYXWVUTS"
)

const hostJSON = `{
  "version": "2.0",
  "extensions": {"http": {"routePrefix": "api"}},
  "customHandler": {
    "description": {"defaultExecutablePath": "handler", "workingDirectory": "", "arguments": []},
    "enableForwardingHttpRequest": true
  }
}`

const negotiateJSON = `{"bindings": [
  {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "methods": ["get", "post", "options"], "route": "negotiate"},
  {"type": "http", "direction": "out", "name": "res"}]}`

const broadcastJSON = `{"bindings": [
  {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function", "methods": ["post"], "route": "broadcast"},
  {"type": "http", "direction": "out", "name": "res"}]}`

// writeApp writes a healthy Functions app into a new directory; files
// overrides or adds files (content "" removes one).
const upstreamJSON = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["post"],"route":"upstream"},{"type":"http","direction":"out","name":"res"}]}`

const presenceJSON = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["get"],"route":"presence"},{"type":"http","direction":"out","name":"res"}]}`

const invokeJSON = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["post"],"route":"invoke"},{"type":"http","direction":"out","name":"res"}]}`

const healthJSON = `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["get"],"route":"health"},{"type":"http","direction":"out","name":"res"}]}`

func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{
		"host.json":               hostJSON,
		"negotiate/function.json": negotiateJSON,
		"broadcast/function.json": broadcastJSON,
		"health/function.json":    healthJSON,
		"upstream/function.json":  upstreamJSON,
		"presence/function.json":  presenceJSON,
		"invoke/function.json":    invokeJSON,
		"handler":                 "#!/bin/sh\nexit 0\n",
	}
	for k, v := range files {
		all[k] = v
	}
	for name, content := range all {
		if content == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if name == "handler" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// connStr returns an AccessKey connection string for the server at base.
func connStr(base, key string) string {
	return "Endpoint=" + base + ";AccessKey=" + key + ";Version=1.0;"
}

// baseConfig returns the default settings (server.Load of an empty
// environment) with the connection string cs.
func baseConfig(t *testing.T, cs string) *server.Config {
	t.Helper()
	c, err := server.Load(nil, t.TempDir())
	if err != nil {
		t.Fatalf("default settings: %v", err)
	}
	c.ConnectionString = cs
	return &c
}

// options returns Options isolated from the process environment.
func options(dir string, cfg *server.Config) doctor.Options {
	return doctor.Options{
		Dir:     dir,
		Config:  cfg,
		Timeout: 2 * time.Second,
		Getenv:  func(string) string { return "" },
		Environ: func() []string { return nil },
	}
}

// fakeService is an Azure SignalR Service stand-in that verifies the tokens
// it gets: HS256 with its key, the exact aud, exp in the future.
type fakeService struct {
	srv        *httptest.Server
	key        string
	authStatus int           // forced status of the REST call, 0: verify
	noNewest   bool          // answer the 2023-07-01/2024-12-01 operations 404, as a service without them
	dateOffset time.Duration // added to the Date header
	restOK     atomic.Int32  // REST calls whose token verified
	clientOK   atomic.Int32  // client negotiates whose token verified
	// transports replaces the negotiate answer's availableTransports.
	transports string
	// upgradeStatus, when set, refuses the WebSocket upgrade with it and
	// upgradeBody (an ErrorDetail).
	upgradeStatus int
	upgradeBody   string
	// reply is the handshake answer record ("{}" when empty).
	reply     string
	silent    bool                 // read the handshake, never answer
	closeWith websocket.StatusCode // close with this instead of answering
	handshake atomic.Int32         // handshakes received as the JS client sends them
}

func (f *fakeService) audBase() string {
	return strings.Replace(f.srv.URL, ":"+portOf(f.srv.URL), "", 1) + "/"
}

func portOf(u string) string { return u[strings.LastIndexByte(u, ':')+1:] }

func (f *fakeService) verify(r *http.Request, aud string) error {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return fmt.Errorf("no bearer token")
	}
	_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(f.key), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(aud), jwt.WithExpirationRequired())
	return err
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.dateOffset != 0 {
		w.Header().Set("Date", time.Now().Add(f.dateOffset).UTC().Format(http.TimeFormat))
	}
	switch {
	case r.Method == http.MethodHead && r.URL.Path == "/api/health":
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodHead && r.URL.Path == "/api/hubs/chat/connections/doctor-probe":
		if f.authStatus != 0 {
			w.WriteHeader(f.authStatus)
			return
		}
		if r.URL.Query().Get("api-version") != "2022-06-01" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := f.verify(r, f.audBase()+"api/hubs/chat/connections/doctor-probe?api-version=2022-06-01"); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.restOK.Add(1)
		w.Header().Set("x-ms-error-code", "Warning.Connection.NotExisted")
		w.WriteHeader(http.StatusNotFound)
	// The newest operations (the api-version probes), unless noNewest.
	case !f.noNewest && r.Method == http.MethodPost && r.URL.Path == "/api/hubs/chat/:execute" && r.URL.Query().Get("api-version") == "2023-07-01":
		w.WriteHeader(http.StatusAccepted)
	case !f.noNewest && r.Method == http.MethodGet && r.URL.Path == "/api/hubs/chat/groups/doctor-probe/connections" && r.URL.Query().Get("api-version") == "2024-12-01":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":[]}`)
	case !f.noNewest && r.Method == http.MethodPost && r.URL.Path == "/api/hubs/chat/connections/doctor-probe/:invoke" && r.URL.Query().Get("api-version") == "2024-12-01":
		w.Header().Set("x-ms-error-code", "Error.Connection.NotExisted")
		w.WriteHeader(http.StatusNotFound)
	case r.Method == http.MethodPost && r.URL.Path == "/client/negotiate":
		if r.URL.Query().Get("hub") != "chat" || r.URL.Query().Get("negotiateVersion") != "1" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := f.verify(r, f.audBase()+"client/?hub=chat"); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"code":"Unauthorized","message":"invalid token"}`)
			return
		}
		f.clientOK.Add(1)
		transports := f.transports
		if transports == "" {
			transports = `[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]`
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"negotiateVersion":1,"connectionId":"abc","connectionToken":"def","availableTransports":`+transports+`}`)
	case r.Method == http.MethodGet && r.URL.Path == "/client/" && r.URL.Query().Get("hub") == "chat":
		f.serveSocket(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveSocket is the client WebSocket: it checks the connection token and
// the bearer, reads the JS client's handshake and answers f.reply.
func (f *fakeService) serveSocket(w http.ResponseWriter, r *http.Request) {
	if f.upgradeStatus != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-ms-error-code", "Error.Refused")
		w.WriteHeader(f.upgradeStatus)
		io.WriteString(w, f.upgradeBody)
		return
	}
	if r.URL.Query().Get("id") != "def" {
		http.Error(w, "unknown connection token", http.StatusNotFound)
		return
	}
	if err := f.verify(r, f.audBase()+"client/?hub=chat"); err != nil {
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	// The service accepts WebSockets from any origin (its default CORS).
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	typ, data, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageText || string(data) != `{"protocol":"json","version":1}`+"\x1e" {
		ws.Close(websocket.StatusPolicyViolation, "bad handshake")
		return
	}
	f.handshake.Add(1)
	if f.closeWith != 0 {
		ws.Close(f.closeWith, "hub not available")
		return
	}
	if f.silent {
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}
	reply := f.reply
	if reply == "" {
		reply = "{}"
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(reply+"\x1e")); err != nil {
		return
	}
	// Wait for the client's close (the doctor closes politely).
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return
		}
	}
}

// newFakeService starts a plain-http fake service verifying with key.
func newFakeService(t *testing.T, key string) *fakeService {
	t.Helper()
	f := &fakeService{key: key}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeHandler serves POST /api/negotiate like the handler, for cs,
// signing with key.
func newFakeHandler(t *testing.T, cs, key string) *httptest.Server {
	t.Helper()
	parsed, err := signalr.ParseConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o == "http://localhost:5173" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if r.URL.Path != "/api/negotiate" || r.Method != http.MethodPost || r.URL.Query().Get("negotiateVersion") != "1" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"request.route_not_found","message":"no function is served at `+r.URL.Path+`","hint":"pass the base URL ending in /api"}}`)
			return
		}
		tok, err := signalr.GenerateAccessToken(signalr.AccessKey{Value: key}, parsed.ClientAudience("chat"), nil)
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]string{"url": parsed.ClientURL("chat"), "accessToken": tok})
	}))
	t.Cleanup(h.Close)
	return h
}

// newTLSService starts a fake service over real TLS with cfg's version
// bounds and returns it with a pool trusting its certificate.
func newTLSService(t *testing.T, f *fakeService, minV, maxV uint16) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	s := httptest.NewUnstartedServer(f)
	s.TLS = &tls.Config{MinVersion: minV, MaxVersion: maxV}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	f.srv = s
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return s, pool
}

// get returns the findings named check; it fails the test when there is none.
func get(t *testing.T, fs []doctor.Finding, check string) doctor.Finding {
	t.Helper()
	for _, f := range fs {
		if f.Check == check {
			return f
		}
	}
	t.Fatalf("no finding %q in:\n%s", check, dump(fs))
	return doctor.Finding{}
}

// expect checks the status and code of the finding named check and that its
// message contains every of parts.
func expect(t *testing.T, fs []doctor.Finding, check string, st doctor.Status, code string, parts ...string) doctor.Finding {
	t.Helper()
	f := get(t, fs, check)
	if f.Status != st || f.Code != code {
		t.Fatalf("%s: got %s %q, want %s %q\n%s", check, f.Status, f.Code, st, code, dump(fs))
	}
	for _, p := range parts {
		if !strings.Contains(f.Message, p) {
			t.Errorf("%s: message %q lacks %q", check, f.Message, p)
		}
	}
	return f
}

func dump(fs []doctor.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// elfHeader returns a minimal ELF64 little-endian executable header.
func elfHeader(machine elfMachine) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1                             // 64-bit, little endian, version 1
	binary.LittleEndian.PutUint16(b[16:], 2)               // ET_EXEC
	binary.LittleEndian.PutUint16(b[18:], uint16(machine)) // e_machine
	binary.LittleEndian.PutUint32(b[20:], 1)               // e_version
	binary.LittleEndian.PutUint16(b[52:], 64)              // e_ehsize
	binary.LittleEndian.PutUint16(b[54:], 56)              // e_phentsize
	binary.LittleEndian.PutUint16(b[58:], 64)              // e_shentsize
	return b
}

type elfMachine uint16

const (
	emX8664   elfMachine = 62
	emAArch64 elfMachine = 183
)

// machoArm64Header returns a minimal 64-bit Mach-O header for arm64.
func machoArm64Header() []byte {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint32(b[0:], 0xfeedfacf)
	binary.LittleEndian.PutUint32(b[4:], 0x0100000c) // CPU_TYPE_ARM64
	binary.LittleEndian.PutUint32(b[12:], 2)         // MH_EXECUTE
	return b
}
