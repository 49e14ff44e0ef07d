package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/doctor"
	"github.com/serverless-signalr/functions-go/internal/server"
	"github.com/serverless-signalr/functions-go/internal/testutil"
)

const (
	entraToken     = "fake-entra-access-token-for-signalr"
	entraSigning   = "entra-temporary-signing-key-value-0123456789"
	entraSecret    = "very-secret-client-secret-value~42"
	handlerBearer  = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLW9mLXRoZS1jYWxsZXI"
	wrongBearer    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cm9uZyJ9.d3Jvbmctc2lnbmF0dXJlLXZhbHVlLXh5eg"
	entraProbePath = "/api/hubs/chat/connections/doctor-probe"
)

// newCred is the fake Entra ID credential of these tests: it returns
// entraToken.
func newCred() *testutil.Credential { return &testutil.Credential{Token: entraToken} }

// fakeEntraService answers like Azure SignalR Service to Entra ID tokens:
// keyStatus and restStatus force the status of GET /api/v1/auth/accessKey
// and of the REST existence check (0: verify the bearer, then 200 / 404).
type fakeEntraService struct {
	srv        *httptest.Server
	keyStatus  int
	restStatus int
	keyOK      atomic.Int32 // accessKey calls with the right bearer
	restOK     atomic.Int32 // REST calls with the right bearer
	other      atomic.Int32 // calls other than health
}

func (f *fakeEntraService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	authorized := r.Header.Get("Authorization") == "Bearer "+entraToken
	switch {
	case r.Method == http.MethodHead && r.URL.Path == "/api/health":
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/auth/accessKey":
		if !authorized {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.keyOK.Add(1)
		if f.keyStatus != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.keyStatus)
			io.WriteString(w, `{"code":"Forbidden","message":"principal lacks permission"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"KeyId":"kid-1","AccessKey":"`+entraSigning+`"}`)
	case r.Method == http.MethodHead && r.URL.Path == entraProbePath:
		if !authorized {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("api-version") != "2022-06-01" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.restOK.Add(1)
		if f.restStatus != 0 {
			w.WriteHeader(f.restStatus)
			return
		}
		w.Header().Set("x-ms-error-code", "Warning.Connection.NotExisted")
		w.WriteHeader(http.StatusNotFound)
	default:
		f.other.Add(1)
		http.NotFound(w, r)
	}
}

func newFakeEntraService(t *testing.T, keyStatus, restStatus int) *fakeEntraService {
	t.Helper()
	f := &fakeEntraService{keyStatus: keyStatus, restStatus: restStatus}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// entraOptions returns Options for an Entra ID connection string extra
// (e.g. "AuthType=azure.msi") against svc, with the fake credential cred.
func entraOptions(t *testing.T, svc *fakeEntraService, extra string, cred azcore.TokenCredential) doctor.Options {
	t.Helper()
	o := options(writeApp(t, nil), baseConfig(t, "Endpoint="+svc.srv.URL+";"+extra+";Version=1.0;"))
	o.Credential = cred
	return o
}

// noSecret fails when any finding prints one of the secrets.
func noSecret(t *testing.T, fs []doctor.Finding, secrets ...string) {
	t.Helper()
	var b bytes.Buffer
	if err := doctor.WriteJSON(&b, fs); err != nil {
		t.Fatal(err)
	}
	if err := doctor.WriteText(&b, fs); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(b.String(), s) {
			t.Errorf("the output prints the secret %.8s…:\n%s", s, b.String())
		}
	}
}

func TestEntraAllPass(t *testing.T) {
	t.Parallel()
	svc := newFakeEntraService(t, 0, 0)
	cred := newCred()
	fs := doctor.Run(context.Background(), entraOptions(t, svc, "AuthType=azure.msi", cred))
	k := expect(t, fs, "signing key default", doctor.Pass, "", "system-assigned managed identity", "accessKey answered 200", "negotiate can sign")
	if k.Details["keyId"] != "kid-1" || k.Details["url"] != svc.srv.URL+"/api/v1/auth/accessKey" || k.Details["scope"] != "https://signalr.azure.com/.default" {
		t.Errorf("signing key details %v", k.Details)
	}
	a := expect(t, fs, "auth default", doctor.Pass, "", "REST calls")
	if a.Details["url"] != svc.srv.URL+entraProbePath+"?api-version=2022-06-01" {
		t.Errorf("auth url %q", a.Details["url"])
	}
	if svc.keyOK.Load() != 1 || svc.restOK.Load() != 1 || svc.other.Load() != 0 {
		t.Errorf("service saw %d accessKey, %d REST, %d other calls; want 1, 1, 0", svc.keyOK.Load(), svc.restOK.Load(), svc.other.Load())
	}
	if cred.Calls() < 1 || !cred.LastHadDeadline() {
		t.Errorf("credential called %d times, bounded context %t", cred.Calls(), cred.LastHadDeadline())
	}
	if sc := cred.LastScopes(); len(sc) != 1 || sc[0] != "https://signalr.azure.com/.default" {
		t.Errorf("scopes %v", sc)
	}
	if doctor.Failed(fs) {
		t.Errorf("a check failed:\n%s", dump(fs))
	}
	noSecret(t, fs, entraToken, entraSigning)
}

// TestEntraIdentityBasedSettings: the Functions identity-based settings
// (…__serviceUri, …__credential) are checked like AuthType=azure.msi.
func TestEntraIdentityBasedSettings(t *testing.T) {
	t.Parallel()
	svc := newFakeEntraService(t, 0, 0)
	o := options(writeApp(t, nil), baseConfig(t, ""))
	o.Credential = newCred()
	o.Environ = func() []string {
		return []string{"AzureSignalRConnectionString__serviceUri=" + svc.srv.URL, "AzureSignalRConnectionString__credential=managedidentity"}
	}
	fs := doctor.Run(context.Background(), o)
	f := expect(t, fs, "connection string", doctor.Pass, "", "Microsoft Entra ID")
	if f.Details["authType"] != "AuthType=azure.msi" {
		t.Errorf("authType %q", f.Details["authType"])
	}
	expect(t, fs, "health default", doctor.Pass, "")
	expect(t, fs, "signing key default", doctor.Pass, "")
	expect(t, fs, "auth default", doctor.Pass, "")
	expect(t, fs, "token size", doctor.Pass, "")
}

func TestEntraAccessKeyForbiddenRESTAllowed(t *testing.T) {
	t.Parallel()
	svc := newFakeEntraService(t, http.StatusForbidden, 0)
	fs := doctor.Run(context.Background(), entraOptions(t, svc, "AuthType=azure.msi", newCred()))
	k := expect(t, fs, "signing key default", doctor.Fail, apperr.CodeServiceForbidden,
		"403 while the REST call passed", "negotiate fails", "SignalR App Server or SignalR Service Owner", "principal lacks permission")
	if !strings.Contains(k.Fix, "SignalR Service Owner") || k.Details["status"] != "403" {
		t.Errorf("fix %q, details %v", k.Fix, k.Details)
	}
	expect(t, fs, "auth default", doctor.Pass, "")
}

func TestEntraForbiddenBoth(t *testing.T) {
	t.Parallel()
	svc := newFakeEntraService(t, http.StatusForbidden, http.StatusForbidden)
	fs := doctor.Run(context.Background(), entraOptions(t, svc, "AuthType=azure.msi;ClientId=11111111-2222-3333-4444-555555555555", newCred()))
	k := expect(t, fs, "signing key default", doctor.Fail, apperr.CodeServiceForbidden,
		"lacks the SignalR Service Owner role", "REST API Owner cannot negotiate", "30 minutes", "network rule")
	if !strings.Contains(k.Fix, "az role assignment create") || k.Details["credential"] != "user-assigned managed identity 11111111-2222-3333-4444-555555555555 (AuthType=azure.msi)" {
		t.Errorf("fix %q, details %v", k.Fix, k.Details)
	}
	expect(t, fs, "auth default", doctor.Fail, apperr.CodeServiceForbidden, "may not call the REST API", "SignalR Service Owner")
}

// TestEntraUnauthorized: the service refuses the Entra token itself (a
// token for another audience or tenant).
func TestEntraUnauthorized(t *testing.T) {
	t.Parallel()
	svc := newFakeEntraService(t, 0, 0)
	cred := newCred()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/health" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="The audience is invalid"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	svc.srv.Config.Handler = h
	fs := doctor.Run(context.Background(), entraOptions(t, svc, "AuthType=azure", cred))
	k := expect(t, fs, "signing key default", doctor.Fail, apperr.CodeServiceUnauthorized, "answered 401", "another resource or tenant", "The audience is invalid")
	if !strings.Contains(k.Fix, "tenant") || k.Details["status"] != "401" || k.Details["credential"] != "DefaultAzureCredential (AuthType=azure)" {
		t.Errorf("fix %q, details %v", k.Fix, k.Details)
	}
	expect(t, fs, "auth default", doctor.Fail, apperr.CodeServiceUnauthorized, "another resource or tenant")
	noSecret(t, fs, entraToken)
}

// TestEntraCredentialError: no token at all; the finding names the
// credential kind and its fix, without the azidentity response body.
func TestEntraCredentialError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, extra string
		err         error
		msgParts    []string
		fixPart     string
	}{
		{
			name:     "no managed identity",
			extra:    "AuthType=azure.msi",
			err:      errors.New("ManagedIdentityCredential: no response from the IMDS endpoint\n--------------------------------------------------------------------------------\nRESPONSE 400\n{\"error\":\"invalid_request\"}\n--------------------------------------------------------------------------------"),
			msgParts: []string{"system-assigned managed identity", "could not get a Microsoft Entra ID token", "no response from the IMDS endpoint"},
			fixPart:  "managed identity exists only where Azure provides one",
		},
		{
			name:     "az login needed",
			extra:    "AuthType=azure",
			err:      errors.New("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing environment variable AZURE_TENANT_ID\n\tManagedIdentityCredential: no response from the IMDS endpoint\n\tAzureCLICredential: Please run 'az login' to set up an account"),
			msgParts: []string{"DefaultAzureCredential (AuthType=azure)", "AzureCLICredential: Please run 'az login'", "EnvironmentCredential"},
			fixPart:  "run az login",
		},
		{
			name:  "wrong tenant",
			extra: "AuthType=azure.app;ClientId=app-id;TenantId=other-tenant;ClientSecret=" + entraSecret,
			err: errors.New("ClientSecretCredential: authentication failed. Input: client_secret=" + entraSecret + "\nPOST https://login.microsoftonline.com/other-tenant/oauth2/v2.0/token\n--------------------------------------------------------------------------------\nRESPONSE 400: 400 Bad Request\n" +
				`{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'app-id' was not found in the directory 'other-tenant'. This can happen if…"}`),
			msgParts: []string{"client secret of application app-id in tenant other-tenant (AuthType=azure.app)", "AADSTS700016: Application with identifier 'app-id' was not found in the directory 'other-tenant'", "[redacted]"},
			fixPart:  "Wrong tenant",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			svc := newFakeEntraService(t, 0, 0)
			fs := doctor.Run(context.Background(), entraOptions(t, svc, c.extra, &testutil.Credential{Token: entraToken, Err: c.err}))
			k := expect(t, fs, "signing key default", doctor.Fail, apperr.CodeServiceUnauthorized, c.msgParts...)
			if !strings.Contains(k.Fix, c.fixPart) {
				t.Errorf("fix %q lacks %q", k.Fix, c.fixPart)
			}
			if strings.Contains(k.Message, "RESPONSE") || strings.Contains(k.Message, "-----") || strings.Contains(k.Message, "invalid_request") {
				t.Errorf("message carries the response body: %q", k.Message)
			}
			expect(t, fs, "auth default", doctor.Skip, "", "no Microsoft Entra ID token")
			if n := svc.keyOK.Load() + svc.restOK.Load() + svc.other.Load(); n != 0 {
				t.Errorf("the service got %d calls without a token", n)
			}
			noSecret(t, fs, entraSecret)
		})
	}
}

// TestEntraCredentialHangs: a credential that never answers (and ignores
// its context) is reported as a timeout within the step bound.
func TestEntraCredentialHangs(t *testing.T) {
	t.Parallel()
	svc := newFakeEntraService(t, 0, 0)
	cred := &testutil.Credential{Token: entraToken, Hang: make(chan struct{})}
	t.Cleanup(func() { close(cred.Hang) })
	o := entraOptions(t, svc, "AuthType=azure.msi", cred)
	o.Timeout = 300 * time.Millisecond
	start := time.Now()
	fs := doctor.Run(context.Background(), o)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Run took %s with a 300ms step timeout", el)
	}
	k := expect(t, fs, "signing key default", doctor.Fail, apperr.CodeServiceTimeout, "system-assigned managed identity", "no Microsoft Entra ID token within 300ms", "managed identity endpoint does not answer")
	if !strings.Contains(k.Fix, "managed identity") || k.Details["timeout"] != "300ms" {
		t.Errorf("fix %q, details %v", k.Fix, k.Details)
	}
	expect(t, fs, "auth default", doctor.Skip, "")
	if svc.keyOK.Load()+svc.restOK.Load() != 0 {
		t.Error("the service got calls without a token")
	}
}

// TestEntraServiceSilent: the token is there but the service never answers
// the accessKey call: a service timeout, not a credential one.
func TestEntraServiceSilent(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	svc := newFakeEntraService(t, 0, 0)
	inner := svc.srv.Config.Handler
	svc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/health" {
			inner.ServeHTTP(w, r)
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	o := entraOptions(t, svc, "AuthType=azure.msi", newCred())
	o.Timeout = 300 * time.Millisecond
	start := time.Now()
	fs := doctor.Run(context.Background(), o)
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Run took %s with a 300ms step timeout", el)
	}
	expect(t, fs, "signing key default", doctor.Fail, apperr.CodeServiceTimeout, "GET /api/v1/auth/accessKey", "no answer within 300ms")
	expect(t, fs, "auth default", doctor.Fail, apperr.CodeServiceTimeout, "no answer within 300ms")
}

// authHandler wraps the fake handler h: negotiate needs "Bearer want"; a
// wrong token is refused with the handler's error body, which (badly)
// echoes the token; every Authorization header is recorded.
func authHandler(t *testing.T, h *httptest.Server, want string) (*httptest.Server, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	inner := h.Config.Handler
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization"))
			mu.Unlock()
			if r.Header.Get("Authorization") != "Bearer "+want {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
				json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
					"code": "negotiate.unauthenticated", "message": "token " + got + " is not accepted", "hint": "sign in first",
				}})
				return
			}
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s, &seen
}

func TestTokenReachesHandler(t *testing.T) {
	t.Parallel()
	svc := newFakeService(t, testKey)
	cs := connStr(svc.srv.URL, testKey)
	h, seen := authHandler(t, newFakeHandler(t, cs, testKey), handlerBearer)
	o := options(writeApp(t, nil), baseConfig(t, cs))
	o.URL = h.URL + "/api"

	// Without a token: 401, and the fix points at --token.
	fs := doctor.Run(context.Background(), o)
	f := expect(t, fs, "negotiate", doctor.Fail, apperr.CodeNegotiateUnauthenticated, "answered 401", "sent without Authorization")
	if !strings.Contains(f.Fix, "--token") || !strings.HasPrefix(f.Fix, "sign in first") {
		t.Errorf("fix %q", f.Fix)
	}

	// With the token: sent as the bearer, negotiate passes end to end.
	o.Token = handlerBearer
	fs = doctor.Run(context.Background(), o)
	f = expect(t, fs, "negotiate", doctor.Pass, "")
	expect(t, fs, "service negotiate", doctor.Pass, "")
	if f.Details["authorization"] == "" {
		t.Errorf("details %v do not say a bearer was sent", f.Details)
	}
	if len(*seen) != 2 || (*seen)[0] != "" || (*seen)[1] != "Bearer "+handlerBearer {
		t.Errorf("Authorization headers seen: %q", *seen)
	}
	noSecret(t, fs, handlerBearer)

	// A wrong token that the handler echoes: refused, explained, not printed.
	o.Token = wrongBearer
	fs = doctor.Run(context.Background(), o)
	f = expect(t, fs, "negotiate", doctor.Fail, apperr.CodeNegotiateUnauthenticated, "answered 401", "which the handler refused", "[redacted]")
	if strings.Contains(f.Fix, "Pass a token") || !strings.Contains(f.Fix, "was refused") {
		t.Errorf("fix %q", f.Fix)
	}
	noSecret(t, fs, wrongBearer)
}

// TestTokenPlain401: a handler (or the platform) answering a bare 401
// without the error body.
func TestTokenPlain401(t *testing.T) {
	t.Parallel()
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(h.Close)
	o := options(writeApp(t, nil), baseConfig(t, ""))
	o.URL = h.URL + "/api"
	fs := doctor.Run(context.Background(), o)
	f := expect(t, fs, "negotiate", doctor.Fail, apperr.CodeNegotiateUnauthenticated, "answered 401", "without Authorization", "the handler says: Bearer")
	if !strings.Contains(f.Fix, "--token") {
		t.Errorf("fix %q", f.Fix)
	}
}

// TestTokenPreflightNeedsAuthorization: with --token the browser's
// preflight asks for the Authorization header, which must be allowed.
func TestTokenPreflightNeedsAuthorization(t *testing.T) {
	t.Parallel()
	var asked atomic.Value
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			asked.Store(r.Header.Get("Access-Control-Request-Headers"))
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "x-requested-with, x-signalr-user-agent")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(h.Close)
	o := options(writeApp(t, nil), baseConfig(t, ""))
	o.URL = h.URL + "/api"
	o.Origin = "http://localhost:5173"
	o.Token = handlerBearer
	fs := doctor.Run(context.Background(), o)
	expect(t, fs, "cors preflight", doctor.Fail, apperr.CodeCORSOriginDenied, "lacks Authorization")
	if a, _ := asked.Load().(string); !strings.HasPrefix(a, "authorization,") {
		t.Errorf("Access-Control-Request-Headers %q", a)
	}
	noSecret(t, fs, handlerBearer)
}

// TestMainTokenNeverPrinted runs `handler doctor` with --token and with
// DOCTOR_TOKEN, in text and JSON: the handler gets the bearer, the output
// never shows it.
func TestMainTokenNeverPrinted(t *testing.T) {
	svc := newFakeService(t, testKey)
	cs := connStr(svc.srv.URL, testKey)
	h, seen := authHandler(t, newFakeHandler(t, cs, testKey), handlerBearer)
	dir := writeApp(t, nil)
	withCS := server.Env{"AzureSignalRConnectionString": cs}
	withToken := server.Env{"AzureSignalRConnectionString": cs, "DOCTOR_TOKEN": handlerBearer}
	runs := []struct {
		args []string
		env  server.Env
	}{
		{[]string{"--json", "--token", handlerBearer}, withCS},
		{[]string{"--token", handlerBearer}, withCS},
		{[]string{"--json"}, withToken},
		{nil, withToken},
	}
	for i, run := range runs {
		var out, errOut bytes.Buffer
		args := append([]string{"--dir", dir, "--url", h.URL + "/api", "--timeout", "2s"}, run.args...)
		err := doctor.Main(context.Background(), args, run.env, &out, &errOut)
		if err != nil {
			t.Fatalf("run %d: %v\n%s%s", i, err, out.String(), errOut.String())
		}
		if strings.Contains(out.String(), handlerBearer) || strings.Contains(errOut.String(), handlerBearer) {
			t.Errorf("run %d prints the token:\n%s", i, out.String())
		}
		if len(run.args) > 0 && run.args[0] == "--json" {
			var fs []doctor.Finding
			if err := json.Unmarshal(out.Bytes(), &fs); err != nil {
				t.Fatalf("run %d: not JSON: %v", i, err)
			}
			if get(t, fs, "negotiate").Status != doctor.Pass {
				t.Errorf("run %d: negotiate %v", i, get(t, fs, "negotiate"))
			}
		} else if !strings.Contains(out.String(), "PASS  negotiate") {
			t.Errorf("run %d: negotiate did not pass:\n%s", i, out.String())
		}
		if got := (*seen)[len(*seen)-1]; got != "Bearer "+handlerBearer {
			t.Errorf("run %d: handler got Authorization %q", i, got)
		}
	}
	if len(*seen) != len(runs) {
		t.Errorf("handler got %d negotiates, want %d", len(*seen), len(runs))
	}
}
