package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/server"
)

// FuzzAppLayout runs the app-layout checks on arbitrary host.json and
// negotiate/function.json contents: they never panic, every finding has a
// valid status, and every code is registered in the taxonomy.
func FuzzAppLayout(f *testing.F) {
	f.Add(`{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"},"enableForwardingHttpRequest":true}}`,
		`{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","methods":["post"],"route":"negotiate"},{"type":"http","direction":"out","name":"res"}]}`)
	f.Add(`{"version":2,"extensions":{"http":{"routePrefix":""}}}`, `{"bindings":[{"type":"signalRConnectionInfo","direction":"in"}]}`)
	f.Add(`not json`, `{"bindings":null,"disabled":true}`)
	f.Fuzz(func(t *testing.T, host, fn string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(host), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "negotiate"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "negotiate", "function.json"), []byte(fn), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &runner{opts: Options{Dir: dir, Getenv: func(string) string { return "" }, Timeout: time.Second, Now: time.Now}, cfg: server.Config{HubName: "chat"}}
		r.checkApp()
		if len(r.findings) < 3 {
			t.Fatalf("%d findings", len(r.findings))
		}
		for _, fd := range r.findings {
			checkFinding(t, fd)
		}
	})
}

func checkFinding(t *testing.T, f Finding) {
	t.Helper()
	switch f.Status {
	case Pass, Warn, Fail, Skip:
	default:
		t.Fatalf("status %q", f.Status)
	}
	if f.Code != "" {
		if _, ok := apperr.Lookup(f.Code); !ok {
			t.Fatalf("unregistered code %q in %s", f.Code, f)
		}
	}
	if f.Status == Fail && (f.Code == "" || f.Fix == "") {
		t.Fatalf("a failure without code or fix: %s", f)
	}
}

// FuzzDecodeNegotiate decodes arbitrary negotiate answers: a body accepted
// as JSON is valid JSON.
func FuzzDecodeNegotiate(f *testing.F) {
	f.Add("application/json", `{"url":"http://localhost:8888/client/?hub=chat","accessToken":"a.b.c"}`)
	f.Add("text/html", `<!DOCTYPE html>`)
	f.Add("application/json; charset=utf-8", `{"error":"boom"}`)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, ct, body string) {
		nb, bad := decodeNegotiate(ct, []byte(body))
		if bad == "" && !json.Valid([]byte(body)) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if bad != "" && nb.AccessToken != "" && strings.Contains(bad, nb.AccessToken) && len(nb.AccessToken) > 8 {
			t.Fatalf("the diagnosis repeats the access token")
		}
	})
}

// FuzzIdentify reads arbitrary executable headers without panicking.
func FuzzIdentify(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("#!/bin/sh\n"))
	f.Add([]byte{0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		k := identifyFrom(bytes.NewReader(b))
		switch k.format {
		case "ELF", "PE", "Mach-O", "script", "unknown":
		default:
			t.Fatalf("format %q", k.format)
		}
	})
}

// FuzzParseClaims parses arbitrary --claims values: accepted claims have
// trimmed, non-empty types without commas.
func FuzzParseClaims(f *testing.F) {
	f.Add("role=admin,role=ops")
	f.Add("name=Ada=Lovelace, email=ada@example.com")
	f.Add("=x")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseClaims(s)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Type == "" || c.Type != strings.TrimSpace(c.Type) || strings.ContainsAny(c.Type, ",=") || strings.Contains(c.Value, ",") {
				t.Fatalf("claim %+v from %q", c, s)
			}
		}
	})
}

// FuzzSummarizeCredentialError summarises arbitrary credential error text
// (it embeds identity-provider responses): it never panics, stays short,
// keeps no line breaks, and never shows the secret or a JWT-shaped string.
func FuzzSummarizeCredentialError(f *testing.F) {
	f.Add("ManagedIdentityCredential: no response from the IMDS endpoint", "s3cr3t-value")
	f.Add("ClientSecretCredential: authentication failed. client_secret=s3cr3t-value\nPOST https://login.microsoftonline.com/t/oauth2/v2.0/token\n-----\nRESPONSE 401\n{\"error_description\":\"AADSTS7000215: Invalid client secret provided. Trace\"}", "s3cr3t-value")
	f.Add("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tAzureCLICredential: Please run 'az login' eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig", "")
	f.Fuzz(func(t *testing.T, text, secret string) {
		got := summarizeCredentialError(errors.New(text), secret)
		if len(got) > 600+len("…") {
			t.Fatalf("summary of %d bytes", len(got))
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Fatalf("summary has a line break: %q", got)
		}
		if len(secret) >= 6 && strings.Contains(got, secret) && !strings.Contains("[redacted] [token]", secret) {
			t.Fatalf("summary %q shows the secret %q", got, secret)
		}
		if m := jwtRe.FindString(got); m != "" && !strings.Contains(secret, m) && strings.Contains(text, m) {
			t.Fatalf("summary %q shows a JWT-shaped string %q", got, m)
		}
	})
}
