package signalr_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// newCred returns the fake Entra ID credential of these tests: tokens
// entra-token-1, entra-token-2, …
func newCred() *testutil.Credential {
	return &testutil.Credential{Token: "entra-token", Numbered: true}
}

func entraClient(t *testing.T, serverURL string, cred azcore.TokenCredential, clock *testutil.Clock) *signalr.Client {
	t.Helper()
	return entraClientWith(t, serverURL, cred, clock, nil)
}

// entraClientWith is entraClient with a transport (nil: the network).
func entraClientWith(t *testing.T, serverURL string, cred azcore.TokenCredential, clock *testutil.Clock, tr policy.Transporter) *signalr.Client {
	t.Helper()
	o := quietOptions()
	o.Retry.MaxRetries = -1
	o.Now = clock.Now
	o.Transport = tr
	c, err := signalr.NewClient(serverURL, cred, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEntraBearerOnREST(t *testing.T) {
	rec := newRecorder(t, statusSequence(202))
	cred := newCred()
	c := entraClient(t, rec.srv.URL, cred, testutil.NewClock(fixedNow))
	if cred.Calls() != 0 {
		t.Fatal("NewClient asked for a token")
	}
	for range 2 {
		if err := sendToAll(c); err != nil {
			t.Fatal(err)
		}
	}
	if got := cred.LastScopes(); !slices.Equal(got, []string{"https://signalr.azure.com/.default"}) {
		t.Errorf("scopes = %q", got)
	}
	for _, r := range rec.requests() {
		if r.Auth != "Bearer entra-token-1" {
			t.Errorf("Authorization = %q, want the cached Entra token as is", r.Auth)
		}
	}
}

func TestEntraTokenFailure(t *testing.T) {
	rec := newRecorder(t, statusSequence(202))
	cred := &testutil.Credential{Err: errors.New("no identity here")}
	c := entraClient(t, rec.srv.URL, cred, testutil.NewClock(fixedNow))
	err := sendToAll(c)
	var ce *signalr.ConnectionError
	if !errors.As(err, &ce) || ce.Kind != signalr.ConnectionCredential {
		t.Fatalf("err = %v, want a credential *ConnectionError", err)
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests without a token", n)
	}
	if s := c.BreakerState(); s != signalr.BreakerClosed {
		t.Errorf("an Entra ID failure moved the breaker to %s", s)
	}
}

func TestAccessKeyConnectionString(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", nil)
	k, err := c.AccessKey(t.Context())
	if err != nil || k.Value != testKey || k.ID != "" {
		t.Fatalf("AccessKey = %v, %v", k, err)
	}
}

// keyServer serves GET /api/v1/auth/accessKey with key-N for the N-th call;
// calls block while gate is held and fail with 403 while failing is set.
type keyServer struct {
	calls   atomic.Int32
	failing atomic.Bool
	gate    chan struct{} // receive one token per answer when non-nil
	arrived chan int32
}

func (ks *keyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/auth/accessKey" || r.Header.Get("Authorization") != "Bearer entra-token-1" {
		w.WriteHeader(400)
		return
	}
	n := ks.calls.Add(1)
	ks.arrived <- n
	if ks.gate != nil {
		<-ks.gate
	}
	if ks.failing.Load() {
		w.WriteHeader(403)
		return
	}
	fmt.Fprintf(w, `{"KeyId":"kid-%d","AccessKey":"key-%d"}`, n, n)
}

// keyClient returns a key server and an Entra ID client that reaches it
// in memory, for tests inside a synctest bubble: synctest.Wait returns
// once every background fetch has stored its outcome or is held at the
// gate.
func keyClient(t *testing.T, clock *testutil.Clock) (*keyServer, *signalr.Client) {
	t.Helper()
	ks := &keyServer{arrived: make(chan int32, 16)}
	return ks, entraClientWith(t, "http://127.0.0.1:1", newCred(), clock, testutil.HandlerTransport{H: ks})
}

func mustKey(t *testing.T, c *signalr.Client, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	k, err := c.AccessKey(ctx)
	if err != nil || k.Value != want || k.ID != "kid-"+want[len("key-"):] {
		t.Fatalf("AccessKey = %v (value ok: %v), %v; want %s", k, k.Value == want, err, want)
	}
}

func TestEntraAccessKeyFirstCallerWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ks, c := keyClient(t, testutil.NewClock(fixedNow))
		ks.gate = make(chan struct{})

		got := make(chan error, 3)
		for range 3 {
			go func() {
				k, err := c.AccessKey(context.Background())
				if err == nil && k.Value != "key-1" {
					err = fmt.Errorf("got %v", k)
				}
				got <- err
			}()
		}
		<-ks.arrived
		synctest.Wait() // every caller is waiting, the fetch is at the gate
		if len(got) != 0 {
			t.Fatalf("a caller returned before the first fetch ended: %v", <-got)
		}
		ks.gate <- struct{}{}
		for range 3 {
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		}
		if n := ks.calls.Load(); n != 1 {
			t.Errorf("%d fetches for 3 concurrent first callers, want 1", n)
		}
	})
}

func TestEntraAccessKeyTimings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := testutil.NewClock(fixedNow)
		ks, c := keyClient(t, clock)
		mustKey(t, c, "key-1")

		clock.Advance(54 * time.Minute)
		mustKey(t, c, "key-1")
		if n := ks.calls.Load(); n != 1 {
			t.Fatalf("refreshed before 55 minutes (%d calls)", n)
		}

		// At 55 minutes a refresh starts in the background; callers keep
		// the cached key without waiting for it.
		ks.gate = make(chan struct{})
		clock.Advance(time.Minute)
		mustKey(t, c, "key-1")
		<-ks.arrived // the first fetch, long done
		<-ks.arrived // the refresh, now held at the gate
		mustKey(t, c, "key-1")
		synctest.Wait()
		if n := ks.calls.Load(); n != 2 {
			t.Fatalf("%d fetches while a refresh is held, want 2", n)
		}
		close(ks.gate)
		synctest.Wait() // the refresh stored key-2
		ks.gate = nil
		mustKey(t, c, "key-2")

		// A failed refresh: the old key stays in use, and no new fetch
		// starts sooner than 5 minutes later.
		ks.failing.Store(true)
		clock.Advance(55 * time.Minute) // key-2 is 55 minutes old
		mustKey(t, c, "key-2")
		synctest.Wait() // the failure is recorded
		if n := ks.calls.Load(); n != 3 {
			t.Fatalf("%d fetches, want the failed refresh as the 3rd", n)
		}
		clock.Advance(4 * time.Minute)
		mustKey(t, c, "key-2")
		synctest.Wait()
		if n := ks.calls.Load(); n != 3 {
			t.Fatalf("fetched again %d times within 5 minutes of a failure", n-3)
		}
		clock.Advance(time.Minute + time.Second)
		mustKey(t, c, "key-2")
		synctest.Wait()
		if n := ks.calls.Load(); n != 4 {
			t.Fatalf("%d fetches, want a 4th attempt 5 minutes after the failure", n)
		}

		// 120 minutes after the last success the key is not used any more.
		clock.Advance(60 * time.Minute) // key-2 is 120+ minutes old, last failure 60 minutes ago
		_, err := c.AccessKey(t.Context())
		if err == nil {
			t.Fatal("an expired key was returned while the service refuses")
		}
		if outcome(err) != "status 403" {
			t.Errorf("outcome = %q, want the fetch's status 403 (err %v)", outcome(err), err)
		}
		// Within 5 minutes of that failure, callers fail fast without a fetch.
		before := ks.calls.Load()
		if _, err := c.AccessKey(t.Context()); err == nil {
			t.Fatal("want an error")
		}
		if ks.calls.Load() != before {
			t.Error("fetched again within 5 minutes of a failure")
		}
		// Once the service answers again, the next caller after 5 minutes
		// waits for the new key.
		ks.failing.Store(false)
		clock.Advance(5 * time.Minute)
		k, err := c.AccessKey(t.Context())
		if err != nil || k.Value != fmt.Sprintf("key-%d", ks.calls.Load()) {
			t.Fatalf("AccessKey after recovery = %v, %v", k, err)
		}
	})
}

func TestNewCredentialMapping(t *testing.T) {
	dir := t.TempDir()
	certPath := filepath.Join(dir, "missing.pem")
	cases := []struct {
		cs      string
		wantErr bool
		typ     string
	}{
		{"Endpoint=https://x.service.signalr.net;AuthType=azure;Version=1.0;", false, "*azidentity.DefaultAzureCredential"},
		{"Endpoint=https://x.service.signalr.net;AuthType=azure.msi;Version=1.0;", false, "*azidentity.ManagedIdentityCredential"},
		{"Endpoint=https://x.service.signalr.net;AuthType=azure.msi;ClientId=abc;Version=1.0;", false, "*azidentity.ManagedIdentityCredential"},
		{"Endpoint=https://x.service.signalr.net;AuthType=azure.app;ClientId=abc;TenantId=tid;ClientSecret=s3cr3t;Version=1.0;", false, "*azidentity.ClientSecretCredential"},
		{"Endpoint=https://x.service.signalr.net;AuthType=aad;ClientId=abc;Version=1.0;", false, "*azidentity.ManagedIdentityCredential"},
		{"Endpoint=https://x.service.signalr.net;AuthType=aad;Version=1.0;", false, "*azidentity.ManagedIdentityCredential"},
		{"Endpoint=https://x.service.signalr.net;AuthType=aad;ClientId=abc;TenantId=tid;ClientSecret=s3cr3t;Version=1.0;", false, "*azidentity.ClientSecretCredential"},
		{"Endpoint=https://x.service.signalr.net;AuthType=azure.app;ClientId=abc;TenantId=tid;ClientCert=" + certPath + ";Version=1.0;", true, ""},
	}
	for _, tc := range cases {
		cs, err := signalr.ParseConnectionString(tc.cs)
		if err != nil {
			t.Fatalf("%s: %v", tc.cs, err)
		}
		cred, err := signalr.NewCredential(cs)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: want an error", tc.cs)
			}
			continue
		}
		if err != nil || fmt.Sprintf("%T", cred) != tc.typ {
			t.Errorf("%s: %T, %v; want %s", tc.cs, cred, err, tc.typ)
		}
	}

	// A real certificate file maps to a client certificate credential.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app"},
		NotBefore: fixedNow, NotAfter: fixedNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)
	certPath = filepath.Join(dir, "app.pem")
	if err := os.WriteFile(certPath, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := signalr.ParseConnectionString("Endpoint=https://x.service.signalr.net;AuthType=azure.app;ClientId=abc;TenantId=tid;ClientCert=" + certPath + ";Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := signalr.NewCredential(cs)
	if err != nil || fmt.Sprintf("%T", cred) != "*azidentity.ClientCertificateCredential" {
		t.Errorf("ClientCert: %T, %v", cred, err)
	}
}

func TestEntraRefusesPlainHTTPToRemoteHosts(t *testing.T) {
	o := quietOptions()
	c, err := signalr.NewClient("http://signalr.example.invalid", newCred(), o)
	if err != nil {
		t.Fatal(err)
	}
	err = sendToAll(c)
	var ce *signalr.ConnectionError
	if !errors.As(err, &ce) || ce.Kind != signalr.ConnectionCredential || ce.Written {
		t.Fatalf("err = %v, want the bearer policy to refuse plain HTTP", err)
	}
}
