package server_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/server"
)

// writeLocalSettings writes a local.settings.json into a new directory.
func writeLocalSettings(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, server.LocalSettingsFile), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

const sampleLocalSettings = `{
  "IsEncrypted": false,
  "Values": {
    "AzureSignalRConnectionString": "Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
    "AzureSignalRHubName": "fromfile",
    "SIGNALR_TOKEN_LIFETIME": "2h",
    "Azure__SignalR__Endpoints__west": "Endpoint=http://127.0.0.1;Port=9999;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"
  },
  "Host": {"LocalHttpPort": 7099, "CORS": "http://localhost:5173,http://127.0.0.1:5173", "CORSCredentials": true}
}`

// TestLoadDefaults: an empty environment in a folder without
// local.settings.json gives the README's defaults.
func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := server.Load(nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.HubName != "chat" || c.TokenLifetime != time.Hour || !c.AllowAnonymous || !c.CORSAllowCredentials ||
		c.ListenHost != "127.0.0.1" || c.ListenPort() != "7071" || c.JWTLeeway != time.Minute || c.UserIDClaim != "sub" ||
		c.HealthInterval != 30*time.Second || c.RESTTimeout != 10*time.Second || c.LogLevel != "info" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Sources.File != "" || c.Sources.FileSkipped != "not found" || len(c.Sources.FromFile) != 0 {
		t.Errorf("sources %+v", c.Sources)
	}
}

// TestLoadTypes reads every kind of field and refuses bad values naming
// the setting.
func TestLoadTypes(t *testing.T) {
	t.Parallel()
	c, err := server.Load(server.Env{
		"SIGNALR_ALLOWED_HUBS": " a, b ,,", "SIGNALR_TOKEN_LIFETIME": "90m", "ALLOW_ANONYMOUS": "false",
		"HANDLER_MAX_IN_FLIGHT": "12", "AzureSignalRHubName": "", "WEBSITE_INSTANCE_ID": "x",
	}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.AllowedHubs, []string{"a", "b"}) || c.TokenLifetime != 90*time.Minute || c.AllowAnonymous || c.MaxInFlight != 12 || c.HubName != "chat" {
		t.Errorf("%+v", c)
	}
	for name, bad := range map[string]string{"ALLOW_ANONYMOUS": "", "SIGNALR_TOKEN_LIFETIME": "soon", "HANDLER_MAX_IN_FLIGHT": "many"} {
		_, err := server.Load(server.Env{name: bad}, t.TempDir())
		if apperr.Code(err) != apperr.CodeConfigInvalid || !strings.Contains(err.Error(), "setting "+name+" has an invalid value") {
			t.Errorf("%s=%q: %v", name, bad, err)
		}
	}
}

// TestLoadLocalSettings: without a host, local.settings.json's Values and
// Host entries are settings, the environment wins, and Sources says which
// came from where.
func TestLoadLocalSettings(t *testing.T) {
	t.Parallel()
	dir := writeLocalSettings(t, sampleLocalSettings)
	c, err := server.Load(server.Env{"SIGNALR_TOKEN_LIFETIME": "3h", "PATH": "/bin"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.HubName != "fromfile" || !strings.Contains(c.ConnectionString, "Port=8888") {
		t.Errorf("Values not applied: hub %q, connection string %q", c.HubName, c.ConnectionString)
	}
	if c.TokenLifetime != 3*time.Hour {
		t.Errorf("the environment does not win: lifetime %v", c.TokenLifetime)
	}
	if c.ListenPort() != "7099" {
		t.Errorf("port %s, want Host.LocalHttpPort 7099", c.ListenPort())
	}
	if !slices.Equal(c.CORSAllowedOrigins, []string{"http://localhost:5173", "http://127.0.0.1:5173"}) || !c.CORSAllowCredentials {
		t.Errorf("Host.CORS not applied: %v %v", c.CORSAllowedOrigins, c.CORSAllowCredentials)
	}
	if !slices.ContainsFunc(c.EndpointSettings, func(kv string) bool { return strings.HasPrefix(kv, "Azure__SignalR__Endpoints__west=") }) {
		t.Errorf("endpoint settings %v", c.EndpointSettings)
	}
	want := []string{"AzureSignalRConnectionString", "AzureSignalRHubName", "Azure__SignalR__Endpoints__west", "Host.CORS", "Host.CORSCredentials", "Host.LocalHttpPort"}
	if c.Sources.File != filepath.Join(dir, server.LocalSettingsFile) || !slices.Equal(c.Sources.FromFile, want) {
		t.Errorf("sources %+v, want FromFile %v", c.Sources, want)
	}
	if !slices.Equal(c.Sources.FromEnvironment, []string{"SIGNALR_TOKEN_LIFETIME"}) {
		t.Errorf("from environment %v", c.Sources.FromEnvironment)
	}
	for _, v := range append(c.Sources.FromFile, c.Sources.FromEnvironment...) {
		if strings.Contains(v, "AccessKey") {
			t.Errorf("sources carry a value: %q", v)
		}
	}

	// The port variables of the environment win over Host.LocalHttpPort
	// and mean "under the host": the file is not read at all.
	c, err = server.Load(server.Env{"FUNCTIONS_CUSTOMHANDLER_PORT": "7200"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenPort() != "7200" || c.HubName != "chat" || c.ConnectionString != "" || c.Sources.FileSkipped != "under the Functions host" {
		t.Errorf("under the host: port %s hub %q sources %+v", c.ListenPort(), c.HubName, c.Sources)
	}
}

// TestLoadLocalSettingsHostRules: the markers of a host each disable the
// file; Values win over Host.CORS; a bad file stops the load; an
// encrypted one is skipped.
func TestLoadLocalSettingsHostRules(t *testing.T) {
	t.Parallel()
	dir := writeLocalSettings(t, sampleLocalSettings)
	for _, k := range []string{"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "FUNCTIONS_APP_ROOT_PATH", "WEBSITE_INSTANCE_ID", "FUNCTIONS_HTTPWORKER_PORT"} {
		c, err := server.Load(server.Env{k: "1"}, dir)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if c.HubName != "chat" || !server.UnderHost(server.Env{k: ""}) {
			t.Errorf("%s set: the file was read (hub %q)", k, c.HubName)
		}
	}

	dir = writeLocalSettings(t, `{"Values": {"CORS_ALLOWED_ORIGINS": "https://a.example", "CORS_ALLOW_CREDENTIALS": "false"}, "Host": {"CORS": "https://b.example", "CORSCredentials": true}}`)
	c, err := server.Load(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.CORSAllowedOrigins, []string{"https://a.example"}) || c.CORSAllowCredentials {
		t.Errorf("Values do not win over Host: %v %v", c.CORSAllowedOrigins, c.CORSAllowCredentials)
	}

	for content, want := range map[string]string{
		`{"Values": {`:                          "is not valid JSON",
		`{"Values": {"ALLOW_ANONYMOUS": true}}`: "Values ALLOW_ANONYMOUS are not strings",
	} {
		_, err := server.Load(nil, writeLocalSettings(t, content))
		if apperr.Code(err) != apperr.CodeConfigInvalid || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", content, err, want)
		}
	}
	c, err = server.Load(nil, writeLocalSettings(t, `{"IsEncrypted": true, "Values": {"AzureSignalRHubName": "c2VjcmV0"}}`))
	if err != nil || c.HubName != "chat" || c.Sources.FileSkipped != "encrypted" {
		t.Errorf("encrypted: %v %q %+v", err, c.HubName, c.Sources)
	}
	if w := c.Warnings(); len(w) != 1 || w[0].Code != apperr.CodeConfigInvalid || !strings.Contains(w[0].Message, "encrypted") {
		t.Errorf("encrypted file warnings: %v", w)
	}
}

// TestEnvFrom keeps the first entry of a name, as os.Getenv does.
func TestEnvFrom(t *testing.T) {
	t.Parallel()
	e := server.EnvFrom([]string{"A=1", "B=x=y", "A=2", "NOEQUALS", "=bad", "C="})
	if v, ok := e.Lookup("A"); !ok || v != "1" {
		t.Errorf("A = %q %v", v, ok)
	}
	if e.Get("B") != "x=y" || len(e) != 3 {
		t.Errorf("%v", e)
	}
	if v, ok := e.Lookup("C"); !ok || v != "" {
		t.Errorf("C = %q %v", v, ok)
	}
	if got := e.Environ(); !slices.Equal(got, []string{"A=1", "B=x=y", "C="}) {
		t.Errorf("Environ %v", got)
	}
}
