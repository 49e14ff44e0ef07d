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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/serverless-signalr/functions-go/signalr"
)

// fakeCred is an Entra ID credential that hands out numbered tokens.
type fakeCred struct {
	calls  atomic.Int32
	scopes chan []string
	fail   error
}

func (f *fakeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	n := f.calls.Add(1)
	select {
	case f.scopes <- o.Scopes:
	default:
	}
	if f.fail != nil {
		return azcore.AccessToken{}, f.fail
	}
	return azcore.AccessToken{Token: fmt.Sprintf("entra-token-%d", n), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func entraClient(t *testing.T, serverURL string, cred azcore.TokenCredential, clock *fakeClock) *signalr.Client {
	t.Helper()
	o := quietOptions()
	o.Retry.MaxRetries = -1
	o.Now = clock.Now
	c, err := signalr.NewClient(serverURL, cred, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEntraBearerOnREST(t *testing.T) {
	rec := newRecorder(t, statusSequence(202))
	cred := &fakeCred{scopes: make(chan []string, 1)}
	c := entraClient(t, rec.srv.URL, cred, &fakeClock{now: fixedNow})
	if cred.calls.Load() != 0 {
		t.Fatal("NewClient asked for a token")
	}
	for range 2 {
		if err := sendToAll(c); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-cred.scopes; !slices.Equal(got, []string{"https://signalr.azure.com/.default"}) {
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
	cred := &fakeCred{fail: errors.New("no identity here")}
	c := entraClient(t, rec.srv.URL, cred, &fakeClock{now: fixedNow})
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

func newKeyServer(t *testing.T) (*keyServer, string) {
	t.Helper()
	ks := &keyServer{arrived: make(chan int32, 16)}
	rec := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) {
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
	})
	return ks, rec.srv.URL
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

func waitCalls(t *testing.T, ks *keyServer, want int32) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for ks.calls.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("key endpoint called %d times, want %d", ks.calls.Load(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// settle waits until a background fetch has stored its outcome.
func settle(t *testing.T, c *signalr.Client, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		k, err := c.AccessKey(t.Context())
		if err == nil && k.Value == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key never became %s (last %v, %v)", want, k, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEntraAccessKeyFirstCallerWaits(t *testing.T) {
	ks, url := newKeyServer(t)
	ks.gate = make(chan struct{})
	clock := &fakeClock{now: fixedNow}
	c := entraClient(t, url, &fakeCred{}, clock)

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
	select {
	case err := <-got:
		t.Fatalf("a caller returned before the first fetch ended: %v", err)
	case <-time.After(50 * time.Millisecond):
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
}

func TestEntraAccessKeyTimings(t *testing.T) {
	ks, url := newKeyServer(t)
	clock := &fakeClock{now: fixedNow}
	c := entraClient(t, url, &fakeCred{}, clock)
	mustKey(t, c, "key-1")

	clock.Advance(54 * time.Minute)
	mustKey(t, c, "key-1")
	if n := ks.calls.Load(); n != 1 {
		t.Fatalf("refreshed before 55 minutes (%d calls)", n)
	}

	// At 55 minutes a refresh starts in the background; callers keep the
	// cached key without waiting for it.
	ks.gate = make(chan struct{})
	clock.Advance(time.Minute)
	start := time.Now()
	mustKey(t, c, "key-1")
	<-ks.arrived // the first fetch, long done
	<-ks.arrived // the refresh, now held at the gate
	mustKey(t, c, "key-1")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("callers blocked %v during a refresh", d)
	}
	close(ks.gate)
	settle(t, c, "key-2")
	ks.gate = nil

	// A failed refresh: the old key stays in use, and no new fetch starts
	// sooner than 5 minutes later.
	ks.failing.Store(true)
	clock.Advance(55 * time.Minute) // key-2 is 55 minutes old
	mustKey(t, c, "key-2")
	waitCalls(t, ks, 3)
	time.Sleep(20 * time.Millisecond) // let the failure be recorded
	clock.Advance(4 * time.Minute)
	mustKey(t, c, "key-2")
	time.Sleep(20 * time.Millisecond)
	if n := ks.calls.Load(); n != 3 {
		t.Fatalf("fetched again %d times within 5 minutes of a failure", n-3)
	}
	clock.Advance(time.Minute + time.Second)
	mustKey(t, c, "key-2")
	waitCalls(t, ks, 4)
	time.Sleep(20 * time.Millisecond)

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
	// Once the service answers again, the next caller after 5 minutes waits
	// for the new key.
	ks.failing.Store(false)
	clock.Advance(5 * time.Minute)
	k, err := c.AccessKey(t.Context())
	if err != nil || k.Value != fmt.Sprintf("key-%d", ks.calls.Load()) {
		t.Fatalf("AccessKey after recovery = %v, %v", k, err)
	}
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
	cred := &fakeCred{}
	c, err := signalr.NewClient("http://signalr.example.invalid", cred, o)
	if err != nil {
		t.Fatal(err)
	}
	err = sendToAll(c)
	var ce *signalr.ConnectionError
	if !errors.As(err, &ce) || ce.Kind != signalr.ConnectionCredential || ce.Written {
		t.Fatalf("err = %v, want the bearer policy to refuse plain HTTP", err)
	}
}
