package main

import (
	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/internal/testutil"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devConnStr is the local emulator's well-known connection string.
const devConnStr = "Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"

var handlerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "handler-bin")
	if err != nil {
		panic(err)
	}
	handlerBin = filepath.Join(dir, "handler")
	out, err := exec.Command("go", "build", "-o", handlerBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the handler: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a TCP port that was free a moment ago, as the Functions
// host picks one.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// handlerProc is the built handler started as the Functions host starts it.
type handlerProc struct {
	base   string
	cmd    *exec.Cmd
	stdout *testutil.SyncBuffer // stdout and stderr interleaved
	// outOnly and errOnly are the two streams apart, as the host reads them.
	outOnly, errOnly *testutil.SyncBuffer
}

// startHandler starts the binary with env (plus a random
// FUNCTIONS_CUSTOMHANDLER_PORT), waits for its "listening" line and checks
// that GET / answers at once then, as the host's next port check would.
func startHandler(t *testing.T, env ...string) *handlerProc {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(handlerBin)
	cmd.Dir = repoRoot(t)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"FUNCTIONS_CUSTOMHANDLER_PORT=" + port,
		"FUNCTIONS_HTTPWORKER_PORT=" + port,
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID=test",
	}, env...)
	out, so, se := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	cmd.Stdout = io.MultiWriter(out, so)
	cmd.Stderr = io.MultiWriter(out, se)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &handlerProc{base: "http://127.0.0.1:" + port, cmd: cmd, stdout: out, outOnly: so, errOnly: se}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if !out.Await(`"msg":"listening"`, 10*time.Second) {
		t.Fatalf("handler did not log that it listens within 10s; output:\n%s", out)
	}
	resp, err := http.Get(p.base + "/")
	if err != nil {
		t.Fatalf("handler logged that it listens but GET / failed: %v; output:\n%s", err, out)
	}
	resp.Body.Close()
	return p
}

func repoRoot(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type binding struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	Name      string   `json:"name"`
	AuthLevel string   `json:"authLevel"`
	Methods   []string `json:"methods"`
	Route     string   `json:"route"`
}

type function struct {
	Name     string
	Bindings []binding `json:"bindings"`
}

func readApp(t *testing.T) (prefix string, forwarding bool, exe string, fns []function) {
	t.Helper()
	root := repoRoot(t)
	var host struct {
		Version       string `json:"version"`
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
			EnableForwardingHttpRequest bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	readJSON(t, filepath.Join(root, "host.json"), &host)
	if host.Version != "2.0" {
		t.Fatalf("host.json version = %q, want 2.0", host.Version)
	}
	prefix = "api"
	if host.Extensions.HTTP.RoutePrefix != nil {
		prefix = *host.Extensions.HTTP.RoutePrefix
	}
	paths, _ := filepath.Glob(filepath.Join(root, "*", "function.json"))
	if len(paths) == 0 {
		t.Fatal("no */function.json")
	}
	for _, p := range paths {
		var f function
		readJSON(t, p, &f)
		f.Name = filepath.Base(filepath.Dir(p))
		fns = append(fns, f)
	}
	return prefix, host.CustomHandler.EnableForwardingHttpRequest, host.CustomHandler.Description.DefaultExecutablePath, fns
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestHostConformance reads host.json and every */function.json, starts the
// built binary as the Functions host does and calls every function both
// ways the host can: at its route in forwarding mode, and at its folder
// name with the JSON invocation envelope. A route the handler does not
// serve (the classic negotiate 404) fails here.
func TestHostConformance(t *testing.T) {
	prefix, forwarding, exe, fns := readApp(t)
	if exe != "handler" {
		t.Errorf("host.json defaultExecutablePath = %q, want handler (what make build produces)", exe)
	}
	if !forwarding {
		t.Errorf("host.json enableForwardingHttpRequest is false; negotiate and broadcast are http-in/http-out functions")
	}
	if prefix != server.RoutePrefix {
		t.Errorf("host.json routePrefix = %q; the handler serves /%s/…", prefix, server.RoutePrefix)
	}
	// Every function the handler serves has its folder, declared as the
	// handler expects, and every folder is a function the handler serves.
	declared := map[string]function{}
	for _, f := range fns {
		declared[f.Name] = f
	}
	for _, want := range server.Functions() {
		f, ok := declared[want.Name]
		if !ok {
			t.Errorf("no %s/function.json: the host would answer 404 for /%s/%s", want.Name, prefix, want.Route)
			continue
		}
		for _, b := range f.Bindings {
			if b.Type != "httpTrigger" {
				continue
			}
			methods := strings.ToLower(strings.Join(b.Methods, ","))
			if b.Route != want.Route || methods != strings.Join(want.Methods, ",") || b.AuthLevel != want.AuthLevel {
				t.Errorf("%s/function.json declares route %q methods %q authLevel %q; the handler serves route %q methods %q authLevel %q",
					want.Name, b.Route, methods, b.AuthLevel, want.Route, strings.Join(want.Methods, ","), want.AuthLevel)
			}
		}
		delete(declared, want.Name)
	}
	for name := range declared {
		t.Errorf("%s/function.json declares a function the handler does not serve", name)
	}

	p := startHandler(t, "AzureSignalRConnectionString="+devConnStr)
	for _, f := range fns {
		t.Run(f.Name, func(t *testing.T) {
			var trig *binding
			ins, outs := 0, 0
			for i := range f.Bindings {
				b := &f.Bindings[i]
				if b.Direction == "in" {
					ins++
				} else {
					outs++
				}
				if b.Type == "httpTrigger" {
					trig = b
				}
			}
			if trig == nil {
				t.Fatal("no httpTrigger binding")
			}
			if ins != 1 || outs != 1 {
				t.Errorf("%d in and %d out bindings: the host forwards only functions with exactly one httpTrigger and one http output", ins, outs)
			}
			route := trig.Route
			if route == "" {
				route = f.Name
			}
			path := "/" + route
			if prefix != "" {
				path = "/" + prefix + path
			}
			methods := trig.Methods
			if len(methods) == 0 {
				methods = []string{"get", "post"}
			}
			for _, m := range methods {
				m = strings.ToUpper(m)
				req, _ := http.NewRequest(m, p.base+path, strings.NewReader(""))
				if m == http.MethodPost {
					req, _ = http.NewRequest(m, p.base+path, strings.NewReader(`{"target":"t","arguments":[]}`))
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
					t.Errorf("forwarded %s %s = %d %s: the handler does not serve the route function.json declares", m, path, resp.StatusCode, body)
				}
			}
			env := map[string]any{
				"Data": map[string]any{trig.Name: map[string]any{
					"Url": "http://localhost:7071" + path, "Method": envelopeMethod(methods),
					"Query":   map[string]string{},
					"Headers": map[string][]string{"Content-Type": {"application/json"}},
					"Body":    `{"target":"t","arguments":[]}`,
				}},
				"Metadata": map[string]any{},
			}
			b, _ := json.Marshal(env)
			resp, err := http.Post(p.base+"/"+f.Name, "application/json", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("JSON mode POST /%s = %d %s; the host needs 200 with Outputs", f.Name, resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("JSON mode Content-Type = %q; the host fails on anything but application/json", ct)
			}
			var out struct {
				Outputs map[string]struct {
					StatusCode int    `json:"statusCode"`
					Body       string `json:"body"`
				}
			}
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("JSON mode body: %v: %s", err, body)
			}
			var outName string
			for _, bd := range f.Bindings {
				if bd.Type == "http" && bd.Direction == "out" {
					outName = bd.Name
				}
			}
			res, ok := out.Outputs[outName]
			if !ok {
				t.Fatalf("JSON mode Outputs lacks %q: %s", outName, body)
			}
			if res.StatusCode == 0 || res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
				t.Errorf("JSON mode Outputs.%s.statusCode = %d: %s", outName, res.StatusCode, res.Body)
			}
		})
	}
}

// TestNegotiateBothModes checks the negotiate answer itself in forwarding
// and envelope mode.
func TestNegotiateBothModes(t *testing.T) {
	p := startHandler(t, "AzureSignalRConnectionString="+devConnStr)
	resp, err := http.Post(p.base+"/api/negotiate?negotiateVersion=1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	var fwd struct{ URL, AccessToken string }
	decodeBody(t, resp, http.StatusOK, &fwd)
	if fwd.URL != "http://localhost:8888/client/?hub=chat" || strings.Count(fwd.AccessToken, ".") != 2 {
		t.Errorf("forwarded negotiate = %+v", fwd)
	}

	env := `{"Data":{"req":"{\"Url\":\"http://localhost:7071/api/negotiate\",\"Method\":\"POST\",\"Query\":\"{}\",\"Headers\":{}}"},"Metadata":{}}`
	resp, err = http.Post(p.base+"/negotiate", "application/json", strings.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	var out hostAnswer
	decodeBody(t, resp, http.StatusOK, &out)
	if out.Outputs.Res.StatusCode != 200 {
		t.Fatalf("envelope negotiate statusCode = %d body %s", out.Outputs.Res.StatusCode, out.Outputs.Res.Body)
	}
	var env2 struct{ URL, AccessToken string }
	if err := json.Unmarshal([]byte(out.Outputs.Res.Body), &env2); err != nil || env2.URL != fwd.URL || env2.AccessToken == "" {
		t.Errorf("envelope negotiate body = %q (%v)", out.Outputs.Res.Body, err)
	}
}

// TestStartupFailsFast checks that a bad setting stops the binary before it
// listens, with one clear line and a non-zero exit.
func TestStartupFailsFast(t *testing.T) {
	for _, tc := range []struct{ name, env, code string }{
		{"missing connection string", "", "config.connection_string.missing"},
		{"bad port", "AzureSignalRConnectionString=Endpoint=http://localhost;Port=99999;AccessKey=k;Version=1.0;", "config.connection_string.invalid_port"},
		{"wildcard cors", "CORS_ALLOWED_ORIGINS=*", "config.cors.wildcard_with_credentials"},
		{"bad lifetime", "SIGNALR_TOKEN_LIFETIME=1000h", "config.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := struct{ Env []string }{}
			cmd.Env = []string{"FUNCTIONS_CUSTOMHANDLER_PORT=" + freePort(t)}
			if tc.env != "" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			if tc.code != "config.connection_string.missing" && !strings.HasPrefix(tc.env, "Azure") {
				cmd.Env = append(cmd.Env, "AzureSignalRConnectionString="+devConnStr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd2 := exec.CommandContext(ctx, handlerBin)
			cmd2.Env = cmd.Env
			out, err := cmd2.CombinedOutput()
			if err == nil {
				t.Fatalf("handler exited 0 with a bad setting; output:\n%s", out)
			}
			if !strings.Contains(string(out), tc.code) {
				t.Errorf("output lacks code %s:\n%s", tc.code, out)
			}
			// The same finding `handler doctor` prints, cause and fix.
			if !strings.Contains(string(out), "FAIL  settings  ["+tc.code+"]") || !strings.Contains(string(out), "→") {
				t.Errorf("output lacks the doctor's finding:\n%s", out)
			}
			if strings.Contains(string(out), "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH") {
				t.Errorf("output contains the AccessKey:\n%s", out)
			}
		})
	}
}

func decodeBody(t *testing.T, resp *http.Response, want int, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
}

// TestNoSecretInLogs drives the binary at debug level through negotiate,
// failures and a broadcast to a dead service, then checks that neither the
// AccessKey nor any token appears in its output.
func TestNoSecretInLogs(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-jwt-secret"
	dead := freePort(t)
	p := startHandler(t,
		"AzureSignalRConnectionString=Endpoint=http://127.0.0.1;Port="+dead+";AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
		"LOG_LEVEL=debug", "AUTH_JWT_SECRET="+secret, "SIGNALR_REST_TIMEOUT=500ms")
	var tokens []string
	for _, auth := range []string{"", "Bearer not.a.jwt", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."} {
		req, _ := http.NewRequest("POST", p.base+"/api/negotiate", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
			tokens = append(tokens, strings.TrimPrefix(auth, "Bearer "))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ AccessToken string }
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if r.AccessToken != "" {
			tokens = append(tokens, r.AccessToken)
		}
	}
	resp, err := http.Post(p.base+"/api/broadcast", "application/json", strings.NewReader(`{"target":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("broadcast to a dead service = %d, want 502", resp.StatusCode)
	}
	p.stdout.Await("service.unreachable", 5*time.Second) // the failure's log line, copied from the child's pipe
	out := p.stdout.String()
	if !strings.Contains(out, `"level":"DEBUG"`) || !strings.Contains(out, "service.unreachable") {
		t.Fatalf("expected debug and failure logs, got:\n%s", out)
	}
	for _, s := range append(tokens, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH", secret) {
		if strings.Contains(out, s) {
			t.Errorf("log output contains a secret (%.12s…):\n%s", s, out)
		}
	}
}

// envelopeMethod is the method a JSON-mode call uses: POST when declared.
func envelopeMethod(methods []string) string {
	for _, m := range methods {
		if strings.EqualFold(m, "post") {
			return "POST"
		}
	}
	return strings.ToUpper(methods[0])
}
