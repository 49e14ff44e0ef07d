package signalr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/signalr"
)

// FuzzParseConnectionString checks that the parser never panics, that
// errors are typed and that successful results keep their invariants:
// redacted String output that parses back to the same settings, and URL
// bases ending in "/".
func FuzzParseConnectionString(f *testing.F) {
	for _, s := range []string{
		"Endpoint=https://contoso.service.signalr.net;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg=;Version=1.0;",
		"Endpoint=http://localhost;Port=8888;AccessKey=K;Version=1.0;",
		"Endpoint=https://a.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s",
		"Endpoint=https://a.example;AuthType=aad;ClientId=c;TenantId=t;ClientCert=/c.pem",
		"Endpoint=https://a.example;AuthType=azure.msi;ClientId=c",
		"endpoint = https://a.example/ ; accesskey = k== ; ClientEndpoint=https://c.example/x;ServerEndpoint=http://[::1]:81",
		"Endpoint=https://a.example;AccessKey=k;Endpoint=https://b.example",
		"Endpoint=ftp://x;AccessKey=k", "Endpoint=https://x;AccessKey=k;Port=65536", "Endpoint=https://x;AccessKey=k;Version=2.0",
		";;;", "", "AccessKey=k", "Endpoint=https://user:pw@x:443/p?q#f;AccessKey=k;AuthType=weird",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := signalr.ParseConnectionString(s)
		if err != nil {
			var ce *signalr.ConnectionStringError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *ConnectionStringError", err)
			}
			if cs != nil || strings.HasPrefix(ce.Kind.String(), "ConnectionStringErrorKind(") || ce.Message == "" {
				t.Fatalf("bad error %+v (cs %v)", ce, cs)
			}
			return
		}
		if cs.Endpoint == nil || (cs.Endpoint.Scheme != "http" && cs.Endpoint.Scheme != "https") || cs.Endpoint.Hostname() == "" {
			t.Fatalf("Endpoint = %v", cs.Endpoint)
		}
		if cs.Port < 0 || cs.Port > 65535 {
			t.Fatalf("Port = %d", cs.Port)
		}
		switch cs.AuthType {
		case signalr.AuthTypeAccessKey:
			if cs.AccessKey == "" {
				t.Fatal("AccessKey mode without an AccessKey")
			}
		case signalr.AuthTypeAzure, signalr.AuthTypeAzureMSI, signalr.AuthTypeAzureApp, signalr.AuthTypeAAD:
		default:
			t.Fatalf("AuthType = %q", cs.AuthType)
		}
		for _, b := range []string{cs.AudienceBase(), cs.ClientBase(), cs.ServerBase()} {
			if !strings.HasSuffix(b, "/") || !strings.HasPrefix(b, "http") {
				t.Fatalf("base %q", b)
			}
		}
		if u := cs.ClientURL("Hub"); !strings.HasPrefix(u, cs.ClientBase()) || !strings.HasSuffix(u, "client/?hub=hub") {
			t.Fatalf("ClientURL = %q", u)
		}

		// Redaction: the output contains a secret only where the same text
		// is there without the secrets, or inside the "Name=***" segment
		// itself (entries cannot contain ';', so a match cannot span).
		out := cs.String()
		plain := *cs
		plain.AccessKey, plain.ClientSecret = "", ""
		nonSecret := plain.String()
		for _, sec := range []struct{ name, value string }{{"AccessKey", cs.AccessKey}, {"ClientSecret", cs.ClientSecret}} {
			if sec.value == "" || sec.value == "***" {
				continue
			}
			if strings.Contains(out, sec.value) && !strings.Contains(nonSecret, sec.value) && !strings.Contains(sec.name+"=***", sec.value) {
				t.Fatalf("String() = %q reveals the %s %q", out, sec.name, sec.value)
			}
		}

		// Re-parse: the redacted form describes the same settings.
		back, err := signalr.ParseConnectionString(out)
		if err != nil {
			t.Fatalf("String() = %q does not parse: %v", out, err)
		}
		same := func(what string, a, b any) {
			t.Helper()
			if a != b {
				t.Fatalf("re-parsed %s = %v, want %v (from %q)", what, b, a, out)
			}
		}
		if _, hasPw := cs.Endpoint.User.Password(); !hasPw {
			same("Endpoint", cs.Endpoint.String(), back.Endpoint.String())
			same("ClientBase", cs.ClientBase(), back.ClientBase())
			same("ServerBase", cs.ServerBase(), back.ServerBase())
		}
		same("AudienceBase", cs.AudienceBase(), back.AudienceBase())
		same("Port", cs.Port, back.Port)
		same("Version", cs.Version, back.Version)
		same("AuthType", cs.AuthType, back.AuthType)
		same("ClientID", cs.ClientID, back.ClientID)
		same("TenantID", cs.TenantID, back.TenantID)
		same("ClientCert", cs.ClientCert, back.ClientCert)
		same("AccessKey set", cs.AccessKey != "", back.AccessKey != "")
		same("ClientSecret set", cs.ClientSecret != "", back.ClientSecret != "")
		if back.AccessKey != "" && back.AccessKey != "***" {
			t.Fatalf("re-parsed AccessKey = %q", back.AccessKey)
		}
		if again := back.String(); again != out {
			t.Fatalf("String() is not stable: %q then %q", out, again)
		}
	})
}
