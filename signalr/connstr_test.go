package signalr_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/signalr"
)

// secretKey is a distinctive AccessKey, with base64 '=' padding, that must
// never appear in an error message or String/LogValue output.
const secretKey = "S3cr3tK3yZZqW9xY+/abcdEFGH=="

// secretAppSecret is a distinctive ClientSecret.
const secretAppSecret = "AppS3cr3tQQ~xyzzy"

func mustParse(t *testing.T, s string) *signalr.ConnectionString {
	t.Helper()
	cs, err := signalr.ParseConnectionString(s)
	if err != nil {
		t.Fatalf("ParseConnectionString(%q): %v", s, err)
	}
	return cs
}

func TestParseConnectionStringValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// expectations
		endpoint       string
		port           int
		clientEndpoint string
		serverEndpoint string
		accessKey      string
		version        string
		authType       signalr.AuthType
		clientID       string
		tenantID       string
		clientSecret   string
		clientCert     string
	}{
		{name: "portal", in: "Endpoint=https://contoso.service.signalr.net;AccessKey=" + secretKey + ";Version=1.0;",
			endpoint: "https://contoso.service.signalr.net", accessKey: secretKey, version: "1.0"},
		{name: "no trailing separator", in: "Endpoint=https://contoso.service.signalr.net;AccessKey=K",
			endpoint: "https://contoso.service.signalr.net", accessKey: "K"},
		{name: "empty entries dropped", in: ";;Endpoint=https://a.example;;;AccessKey=K;;",
			endpoint: "https://a.example", accessKey: "K"},
		{name: "whitespace around keys and values", in: "  Endpoint = https://a.example/ ;\tAccessKey=\tK \t; Version = 1.0 ",
			endpoint: "https://a.example", accessKey: "K", version: "1.0"},
		{name: "keys case-insensitive", in: "ENDPOINT=https://a.example;accesskey=K;vErSiOn=1.1;pOrT=8080",
			endpoint: "https://a.example", accessKey: "K", version: "1.1", port: 8080},
		{name: "values case-sensitive", in: "Endpoint=https://a.example;AccessKey=AbC",
			endpoint: "https://a.example", accessKey: "AbC"},
		{name: "first = splits, padding survives", in: "Endpoint=https://a.example;AccessKey=abc==;Version=1.0",
			endpoint: "https://a.example", accessKey: "abc==", version: "1.0"},
		{name: "= inside value", in: "Endpoint=https://a.example;AccessKey=a=b=c",
			endpoint: "https://a.example", accessKey: "a=b=c"},
		{name: "entries without = ignored", in: "Endpoint=https://a.example;garbage;AccessKey=K;more garbage",
			endpoint: "https://a.example", accessKey: "K"},
		{name: "unknown keys ignored", in: "Endpoint=https://a.example;AccessKey=K;Foo=bar;ClientCertPath=/x",
			endpoint: "https://a.example", accessKey: "K"},
		{name: "trailing slashes trimmed", in: "Endpoint=https://a.example///;AccessKey=K",
			endpoint: "https://a.example", accessKey: "K"},
		{name: "http scheme", in: "Endpoint=http://localhost;Port=8888;AccessKey=K;Version=1.0;",
			endpoint: "http://localhost", port: 8888, accessKey: "K", version: "1.0"},
		{name: "scheme and host lower-cased", in: "Endpoint=HTTPS://Contoso.Service.SignalR.net;AccessKey=K",
			endpoint: "https://contoso.service.signalr.net", accessKey: "K"},
		{name: "default port dropped", in: "Endpoint=https://a.example:443;AccessKey=K",
			endpoint: "https://a.example", accessKey: "K"},
		{name: "explicit port kept", in: "Endpoint=https://a.example:8443;AccessKey=K",
			endpoint: "https://a.example:8443", accessKey: "K"},
		{name: "port 1", in: "Endpoint=https://a.example;AccessKey=K;Port=1", endpoint: "https://a.example", port: 1, accessKey: "K"},
		{name: "port 65535", in: "Endpoint=https://a.example;AccessKey=K;Port=65535", endpoint: "https://a.example", port: 65535, accessKey: "K"},
		{name: "port with plus sign", in: "Endpoint=https://a.example;AccessKey=K;Port=+8080", endpoint: "https://a.example", port: 8080, accessKey: "K"},
		{name: "version 1.1-preview", in: "Endpoint=https://a.example;AccessKey=K;Version=1.1-preview", endpoint: "https://a.example", accessKey: "K", version: "1.1-preview"},
		{name: "version 1.10.beta_2", in: "Endpoint=https://a.example;AccessKey=K;Version=1.10.beta_2", endpoint: "https://a.example", accessKey: "K", version: "1.10.beta_2"},
		{name: "client and server endpoints", in: "Endpoint=https://a.example;AccessKey=K;ClientEndpoint=https://client.example:8443;ServerEndpoint=http://server.example:81/",
			endpoint: "https://a.example", accessKey: "K", clientEndpoint: "https://client.example:8443", serverEndpoint: "http://server.example:81/"},
		{name: "slash before a fragment", in: "Endpoint=https://a.example/#/;AccessKey=K",
			endpoint: "https://a.example", accessKey: "K"},
		{name: "authtype azure, no key", in: "Endpoint=https://a.example;AuthType=azure",
			endpoint: "https://a.example", authType: signalr.AuthTypeAzure},
		{name: "authtype upper case", in: "Endpoint=https://a.example;AuthType=AZURE.MSI;ClientId=mi-id",
			endpoint: "https://a.example", authType: signalr.AuthTypeAzureMSI, clientID: "mi-id"},
		{name: "azure.app with secret", in: "Endpoint=https://a.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=" + secretAppSecret,
			endpoint: "https://a.example", authType: signalr.AuthTypeAzureApp, clientID: "c", tenantID: "t", clientSecret: secretAppSecret},
		{name: "azure.app with cert", in: "Endpoint=https://a.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/etc/cert.pem",
			endpoint: "https://a.example", authType: signalr.AuthTypeAzureApp, clientID: "c", tenantID: "t", clientCert: "/etc/cert.pem"},
		{name: "aad system identity", in: "Endpoint=https://a.example;AuthType=aad",
			endpoint: "https://a.example", authType: signalr.AuthTypeAAD},
		{name: "aad user identity", in: "Endpoint=https://a.example;AuthType=aad;ClientId=c",
			endpoint: "https://a.example", authType: signalr.AuthTypeAAD, clientID: "c"},
		{name: "aad app", in: "Endpoint=https://a.example;AuthType=aad;ClientId=c;TenantId=t;ClientSecret=s",
			endpoint: "https://a.example", authType: signalr.AuthTypeAAD, clientID: "c", tenantID: "t", clientSecret: "s"},
		{name: "aad tenant without client id", in: "Endpoint=https://a.example;AuthType=aad;TenantId=t",
			endpoint: "https://a.example", authType: signalr.AuthTypeAAD, tenantID: "t"},
		{name: "unknown authtype falls back to access key", in: "Endpoint=https://a.example;AuthType=kerberos;AccessKey=K",
			endpoint: "https://a.example", authType: signalr.AuthTypeAccessKey, accessKey: "K"},
		{name: "empty authtype is access key", in: "Endpoint=https://a.example;AuthType=;AccessKey=K",
			endpoint: "https://a.example", authType: signalr.AuthTypeAccessKey, accessKey: "K"},
		{name: "azure keeps an extra access key", in: "Endpoint=https://a.example;AuthType=azure;AccessKey=K",
			endpoint: "https://a.example", authType: signalr.AuthTypeAzure, accessKey: "K"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := mustParse(t, tt.in)
			check := func(field, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("Endpoint", cs.Endpoint.String(), tt.endpoint)
			if cs.Port != tt.port {
				t.Errorf("Port = %d, want %d", cs.Port, tt.port)
			}
			urlStr := func(u interface{ String() string }, isNil bool) string {
				if isNil {
					return ""
				}
				return u.String()
			}
			check("ClientEndpoint", urlStr(cs.ClientEndpoint, cs.ClientEndpoint == nil), tt.clientEndpoint)
			check("ServerEndpoint", urlStr(cs.ServerEndpoint, cs.ServerEndpoint == nil), tt.serverEndpoint)
			check("AccessKey", cs.AccessKey, tt.accessKey)
			check("Version", cs.Version, tt.version)
			check("AuthType", string(cs.AuthType), string(tt.authType))
			check("ClientID", cs.ClientID, tt.clientID)
			check("TenantID", cs.TenantID, tt.tenantID)
			check("ClientSecret", cs.ClientSecret, tt.clientSecret)
			check("ClientCert", cs.ClientCert, tt.clientCert)
			if got, want := cs.UsesEntraID(), tt.authType != signalr.AuthTypeAccessKey; got != want {
				t.Errorf("UsesEntraID() = %v, want %v", got, want)
			}
			if got, want := cs.HasVersion(), tt.version != ""; got != want {
				t.Errorf("HasVersion() = %v, want %v", got, want)
			}
		})
	}
}

// errorCases lists every refusal of the parser. Strings that carry a key
// use secretKey or secretAppSecret.
var errorCases = []struct {
	name string
	in   string
	kind signalr.ConnectionStringErrorKind
	key  string
	msg  string // a substring of Message
}{
	{"empty", "", signalr.ConnectionStringEmpty, "", "empty"},
	{"blank", "  \t ", signalr.ConnectionStringEmpty, "", "empty"},
	{"one entry", "Endpoint=https://a.example", signalr.ConnectionStringMalformed, "", "missing required properties"},
	{"one entry with separator", "Endpoint=https://a.example;", signalr.ConnectionStringMalformed, "", "missing required properties"},
	{"only the key", "AccessKey=" + secretKey + ";", signalr.ConnectionStringMalformed, "", "missing required properties"},
	{"only separators", ";;;", signalr.ConnectionStringMalformed, "", "missing required properties"},
	{"pasted key alone", secretKey, signalr.ConnectionStringMalformed, "", "missing required properties"},
	{"no endpoint", "AccessKey=" + secretKey + ";Version=1.0;", signalr.ConnectionStringMissingEndpoint, "Endpoint", "Endpoint"},
	{"entries without =", "Endpoint https://a.example;AccessKey " + secretKey, signalr.ConnectionStringMissingEndpoint, "Endpoint", "Endpoint"},
	{"duplicate same case", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Endpoint=https://b.example", signalr.ConnectionStringDuplicateKey, "Endpoint", `"Endpoint"`},
	{"duplicate other case", "Endpoint=https://a.example;AccessKey=" + secretKey + ";ENDPOINT=https://a.example", signalr.ConnectionStringDuplicateKey, "ENDPOINT", `"ENDPOINT"`},
	{"duplicate access key", "Endpoint=https://a.example;AccessKey=" + secretKey + ";accesskey=" + secretKey, signalr.ConnectionStringDuplicateKey, "accesskey", `"accesskey"`},
	{"duplicate unknown key", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Foo=1;fOO=2", signalr.ConnectionStringDuplicateKey, "fOO", `"fOO"`},
	{"duplicate empty key", "Endpoint=https://a.example;AccessKey=" + secretKey + ";=1;=2", signalr.ConnectionStringDuplicateKey, "", `""`},
	{"duplicate key naming the secret later", "x" + secretAppSecret + "=1;X" + secretAppSecret + "=2;Endpoint=https://a.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=" + secretAppSecret, signalr.ConnectionStringDuplicateKey, "", "value hidden"},
	{"empty endpoint", "Endpoint=;AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "Endpoint", "not an absolute http or https URL"},
	{"relative endpoint", "Endpoint=contoso.service.signalr.net;AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "Endpoint", "contoso.service.signalr.net"},
	{"ftp endpoint", "Endpoint=ftp://a.example;AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "Endpoint", "ftp://a.example"},
	{"ws endpoint", "Endpoint=wss://a.example;AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "Endpoint", "not an absolute"},
	{"no host", "Endpoint=https://;AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "Endpoint", "not an absolute"},
	{"opaque", "Endpoint=https:a.example;AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "Endpoint", "not an absolute"},
	{"bad endpoint port", "Endpoint=https://a.example:99999;AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "Endpoint", "not an absolute"},
	{"endpoint lower-case key named", "endpoint=nope;AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "endpoint", "endpoint"},
	{"version 2.0", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Version=2.0", signalr.ConnectionStringInvalidVersion, "Version", `"2.0" is not supported`},
	{"version 1", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Version=1", signalr.ConnectionStringInvalidVersion, "Version", `"1"`},
	{"version 1.", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Version=1.", signalr.ConnectionStringInvalidVersion, "Version", `"1."`},
	{"version 1.x", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Version=1.x", signalr.ConnectionStringInvalidVersion, "Version", `"1.x"`},
	{"version bad char", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Version=1.0+build", signalr.ConnectionStringInvalidVersion, "Version", "not supported"},
	{"version empty", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Version=", signalr.ConnectionStringInvalidVersion, "Version", "not supported"},
	{"port 0", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Port=0", signalr.ConnectionStringInvalidPort, "Port", `"0"`},
	{"port 65536", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Port=65536", signalr.ConnectionStringInvalidPort, "Port", `"65536"`},
	{"port negative", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Port=-1", signalr.ConnectionStringInvalidPort, "Port", "between 1 and 65535"},
	{"port abc", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Port=abc", signalr.ConnectionStringInvalidPort, "Port", `"abc"`},
	{"port empty", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Port=", signalr.ConnectionStringInvalidPort, "Port", "between 1 and 65535"},
	{"port huge", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Port=99999999999999999999", signalr.ConnectionStringInvalidPort, "Port", "between 1 and 65535"},
	{"client endpoint relative", "Endpoint=https://a.example;AccessKey=" + secretKey + ";ClientEndpoint=/client", signalr.ConnectionStringInvalidClientEndpoint, "ClientEndpoint", "ClientEndpoint"},
	{"client endpoint empty", "Endpoint=https://a.example;AccessKey=" + secretKey + ";ClientEndpoint=", signalr.ConnectionStringInvalidClientEndpoint, "ClientEndpoint", "ClientEndpoint"},
	{"server endpoint ftp", "Endpoint=https://a.example;AccessKey=" + secretKey + ";ServerEndpoint=ftp://x", signalr.ConnectionStringInvalidServerEndpoint, "ServerEndpoint", "ServerEndpoint"},
	{"no access key", "Endpoint=https://a.example;Version=1.0", signalr.ConnectionStringMissingAccessKey, "AccessKey", "missing the required property AccessKey"},
	{"empty access key", "Endpoint=https://a.example;AccessKey=  ;Version=1.0", signalr.ConnectionStringMissingAccessKey, "AccessKey", "AccessKey is empty"},
	{"unknown authtype without key", "Endpoint=https://a.example;AuthType=managed", signalr.ConnectionStringMissingAccessKey, "AccessKey", `AuthType "managed" is not recognised`},
	{"azure.app no client id", "Endpoint=https://a.example;AuthType=azure.app;TenantId=t;ClientSecret=" + secretAppSecret, signalr.ConnectionStringMissingClientID, "ClientId", "ClientId"},
	{"azure.app no tenant id", "Endpoint=https://a.example;AuthType=azure.app;ClientId=c;ClientSecret=" + secretAppSecret, signalr.ConnectionStringMissingTenantID, "TenantId", "TenantId"},
	{"azure.app no secret", "Endpoint=https://a.example;AuthType=azure.app;ClientId=c;TenantId=t", signalr.ConnectionStringMissingClientSecret, "ClientSecret", "ClientSecret or ClientCert"},
	{"aad client and tenant without secret", "Endpoint=https://a.example;AuthType=aad;ClientId=c;TenantId=t", signalr.ConnectionStringMissingClientSecret, "ClientSecret", "ClientSecret or ClientCert"},
	// Values that embed the secret must not be echoed.
	{"endpoint containing the key", "Endpoint=x" + secretKey + ";AccessKey=" + secretKey, signalr.ConnectionStringInvalidEndpoint, "Endpoint", "value hidden"},
	{"version containing the secret", "Endpoint=https://a.example;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=" + secretAppSecret + ";Version=" + secretAppSecret, signalr.ConnectionStringInvalidVersion, "Version", "value hidden"},
	{"port equal to the key", "Endpoint=https://a.example;AccessKey=" + secretKey + ";Port=" + secretKey, signalr.ConnectionStringInvalidPort, "Port", "value hidden"},
}

func TestParseConnectionStringErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := signalr.ParseConnectionString(tt.in)
			if err == nil {
				t.Fatalf("ParseConnectionString(%q) = %v, want error %s", tt.in, cs, tt.kind)
			}
			if cs != nil {
				t.Errorf("got a non-nil *ConnectionString with error")
			}
			var ce *signalr.ConnectionStringError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *ConnectionStringError", err)
			}
			if ce.Kind != tt.kind {
				t.Errorf("Kind = %v, want %v", ce.Kind, tt.kind)
			}
			if ce.Key != tt.key {
				t.Errorf("Key = %q, want %q", ce.Key, tt.key)
			}
			if !strings.Contains(ce.Message, tt.msg) {
				t.Errorf("Message = %q, want it to contain %q", ce.Message, tt.msg)
			}
			if !strings.Contains(err.Error(), ce.Message) {
				t.Errorf("Error() = %q does not carry the message", err.Error())
			}
		})
	}
}

// TestParseConnectionStringErrorsNeverLeakSecrets checks every error case:
// neither the AccessKey nor the ClientSecret appears in any text.
func TestParseConnectionStringErrorsNeverLeakSecrets(t *testing.T) {
	for _, tt := range errorCases {
		_, err := signalr.ParseConnectionString(tt.in)
		var ce *signalr.ConnectionStringError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: error %T is not *ConnectionStringError", tt.name, err)
		}
		for _, text := range []string{err.Error(), ce.Key, ce.Message} {
			for _, secret := range []string{secretKey, secretAppSecret} {
				if strings.Contains(text, secret) {
					t.Errorf("%s: %q contains a secret", tt.name, text)
				}
			}
		}
	}
}

func TestParseConnectionStringTruncatesLongValues(t *testing.T) {
	long := "notaurl" + strings.Repeat("x", 500)
	_, err := signalr.ParseConnectionString("Endpoint=" + long + ";AccessKey=K")
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), long) {
		t.Errorf("the error repeats a 500-byte value in full: %d bytes", len(err.Error()))
	}
	if !strings.Contains(err.Error(), "notaurl") {
		t.Errorf("the error %q does not show the start of the value", err)
	}
}

func TestConnectionStringURLs(t *testing.T) {
	tests := []struct {
		name                         string
		in                           string
		audBase, clientBase, srvBase string
		clientURL, clientAud         string // for hub "Chat"
	}{
		{name: "local with port", in: "Endpoint=http://localhost;Port=8888;AccessKey=K;Version=1.0;",
			audBase: "http://localhost/", clientBase: "http://localhost:8888/", srvBase: "http://localhost:8888/",
			clientURL: "http://localhost:8888/client/?hub=chat", clientAud: "http://localhost/client/?hub=chat"},
		{name: "azure", in: "Endpoint=https://contoso.service.signalr.net;AccessKey=K;Version=1.0;",
			audBase: "https://contoso.service.signalr.net/", clientBase: "https://contoso.service.signalr.net/", srvBase: "https://contoso.service.signalr.net/",
			clientURL: "https://contoso.service.signalr.net/client/?hub=chat", clientAud: "https://contoso.service.signalr.net/client/?hub=chat"},
		{name: "port in endpoint kept for requests, dropped for audience", in: "Endpoint=http://127.0.0.1:8999;AccessKey=K",
			audBase: "http://127.0.0.1/", clientBase: "http://127.0.0.1:8999/", srvBase: "http://127.0.0.1:8999/",
			clientURL: "http://127.0.0.1:8999/client/?hub=chat", clientAud: "http://127.0.0.1/client/?hub=chat"},
		{name: "Port replaces endpoint port", in: "Endpoint=http://localhost:7000;Port=8888;AccessKey=K",
			audBase: "http://localhost/", clientBase: "http://localhost:8888/", srvBase: "http://localhost:8888/",
			clientURL: "http://localhost:8888/client/?hub=chat", clientAud: "http://localhost/client/?hub=chat"},
		{name: "Port equal to the default is dropped", in: "Endpoint=https://a.example:8443;Port=443;AccessKey=K",
			audBase: "https://a.example/", clientBase: "https://a.example/", srvBase: "https://a.example/",
			clientURL: "https://a.example/client/?hub=chat", clientAud: "https://a.example/client/?hub=chat"},
		{name: "Port does not touch client and server endpoints", in: "Endpoint=https://a.example;Port=9000;ClientEndpoint=https://gw.example;ServerEndpoint=https://srv.example:8443;AccessKey=K",
			audBase: "https://a.example/", clientBase: "https://gw.example/", srvBase: "https://srv.example:8443/",
			clientURL: "https://gw.example/client/?hub=chat", clientAud: "https://a.example/client/?hub=chat"},
		{name: "client endpoint with path gets a slash", in: "Endpoint=https://a.example;ClientEndpoint=https://gw.example/signalr;AccessKey=K",
			audBase: "https://a.example/", clientBase: "https://gw.example/signalr/", srvBase: "https://a.example/",
			clientURL: "https://gw.example/signalr/client/?hub=chat", clientAud: "https://a.example/client/?hub=chat"},
		{name: "endpoint with path", in: "Endpoint=https://a.example/prefix/;AccessKey=K",
			audBase: "https://a.example/", clientBase: "https://a.example/prefix/", srvBase: "https://a.example/prefix/",
			clientURL: "https://a.example/prefix/client/?hub=chat", clientAud: "https://a.example/client/?hub=chat"},
		{name: "ipv6 with port", in: "Endpoint=http://[::1]:8080;AccessKey=K",
			audBase: "http://[::1]/", clientBase: "http://[::1]:8080/", srvBase: "http://[::1]:8080/",
			clientURL: "http://[::1]:8080/client/?hub=chat", clientAud: "http://[::1]/client/?hub=chat"},
		{name: "ipv6 with Port", in: "Endpoint=http://[::1];Port=9999;AccessKey=K",
			audBase: "http://[::1]/", clientBase: "http://[::1]:9999/", srvBase: "http://[::1]:9999/",
			clientURL: "http://[::1]:9999/client/?hub=chat", clientAud: "http://[::1]/client/?hub=chat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := mustParse(t, tt.in)
			for _, c := range []struct{ what, got, want string }{
				{"AudienceBase", cs.AudienceBase(), tt.audBase},
				{"ClientBase", cs.ClientBase(), tt.clientBase},
				{"ServerBase", cs.ServerBase(), tt.srvBase},
				{"ClientURL", cs.ClientURL("Chat"), tt.clientURL},
				{"ClientAudience", cs.ClientAudience("Chat"), tt.clientAud},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestConnectionStringStringRedacts(t *testing.T) {
	in := "Endpoint=https://user:pa55word@a.example;Port=8443;ClientEndpoint=https://gw.example;ServerEndpoint=https://srv.example;" +
		"AccessKey=" + secretKey + ";Version=1.0;AuthType=azure.app;ClientId=cid;TenantId=tid;ClientSecret=" + secretAppSecret + ";ClientCert=/c.pem"
	cs := mustParse(t, in)
	s := cs.String()
	for _, secret := range []string{secretKey, secretAppSecret, "pa55word"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() = %q contains %q", s, secret)
		}
	}
	want := "Endpoint=https://user:xxxxx@a.example;Port=8443;ClientEndpoint=https://gw.example;ServerEndpoint=https://srv.example;" +
		"AccessKey=***;Version=1.0;AuthType=azure.app;ClientId=cid;TenantId=tid;ClientSecret=***;ClientCert=/c.pem;"
	if s != want {
		t.Errorf("String() =\n %q\nwant\n %q", s, want)
	}
	// The redacted form parses back to the same settings.
	back := mustParse(t, s)
	if back.AccessKey != "***" || back.ClientSecret != "***" || back.Port != 8443 || back.AuthType != signalr.AuthTypeAzureApp ||
		back.ClientEndpoint.String() != "https://gw.example" || back.ClientID != "cid" || back.TenantID != "tid" || back.ClientCert != "/c.pem" {
		t.Errorf("re-parsed String() = %+v", back)
	}
	if got := (*signalr.ConnectionString)(nil).String(); got != "<nil>" {
		t.Errorf("nil String() = %q", got)
	}
}

func TestConnectionStringLogValueRedacts(t *testing.T) {
	cs := mustParse(t, "Endpoint=https://a.example;AccessKey="+secretKey+";Version=1.0;ClientSecret="+secretAppSecret)
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("config", "signalr", cs, "key", signalr.AccessKey{ID: "k1", Value: secretKey})
		out := buf.String()
		if strings.Contains(out, secretKey) || strings.Contains(out, secretAppSecret) {
			t.Errorf("log output leaks a secret: %s", out)
		}
		for _, want := range []string{"a.example", "1.0", "accesskey", "***", "k1"} {
			if !strings.Contains(out, want) {
				t.Errorf("log output %s lacks %q", out, want)
			}
		}
	}
}
