package signalr_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/serverless-signalr/functions-go/signalr"
)

// TestEntraClientSecretAgainstFakeAuthority runs the real azidentity
// client-secret flow against a loopback TLS fake of the Entra ID authority
// and checks that the REST call carries the token it issued.
func TestEntraClientSecretAgainstFakeAuthority(t *testing.T) {
	var tokenCalls, restCalls atomic.Int32
	var restAuth atomic.Value
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			base := srv.URL + "/tenant-1"
			json.NewEncoder(w).Encode(map[string]string{
				"token_endpoint":         base + "/oauth2/v2.0/token",
				"authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"issuer":                 base + "/v2.0",
			})
		case r.URL.Path == "/tenant-1/oauth2/v2.0/token":
			tokenCalls.Add(1)
			body, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(body), "client_secret=s3cr3t") || !strings.Contains(string(body), "scope=https%3A%2F%2Fsignalr.azure.com%2F.default") {
				w.WriteHeader(400)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"access_token": "issued-by-fake", "token_type": "Bearer", "expires_in": 3600})
		case strings.HasPrefix(r.URL.Path, "/api/hubs/"):
			restCalls.Add(1)
			restAuth.Store(r.Header.Get("Authorization"))
			w.WriteHeader(202)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()

	cred, err := azidentity.NewClientSecretCredential("tenant-1", "client-1", "s3cr3t", &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"},
			Transport: srv.Client(),
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	o := quietOptions()
	o.Transport = srv.Client()
	c, err := signalr.NewClient(srv.URL, cred, o)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := sendToAll(c); err != nil {
			t.Fatal(err)
		}
	}
	if got := restAuth.Load(); got != "Bearer issued-by-fake" {
		t.Errorf("REST Authorization = %v", got)
	}
	if tokenCalls.Load() != 1 || restCalls.Load() != 2 {
		t.Errorf("token calls %d, REST calls %d; want 1 and 2", tokenCalls.Load(), restCalls.Load())
	}
}
