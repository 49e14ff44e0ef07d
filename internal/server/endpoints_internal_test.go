package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/testutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

func testConfig() Config {
	return Config{HubName: "chat", TokenLifetime: time.Hour, JWTLeeway: time.Minute, UserIDClaim: "sub",
		LogLevel: "info", AllowAnonymous: true, RESTTimeout: 5 * time.Second, ListenHost: "127.0.0.1"}
}

func TestCollectEndpointSettings(t *testing.T) {
	got := collectEndpointSettings([]string{
		"PATH=/bin",
		"AzureSignalRConnectionString=Endpoint=https://a.service.signalr.net;AccessKey=k;Version=1.0;",
		"Azure__SignalR__Endpoints__west__secondary=Endpoint=https://w.service.signalr.net;AccessKey=k;Version=1.0;",
		"Azure__SignalR__Endpoints__east__serviceUri=https://e.service.signalr.net",
		"Azure__SignalR__Endpoints__east__credential=managedidentity",
		"Azure__SignalR__Endpoints__east__clientId=11111111-2222-3333-4444-555555555555",
	})
	if len(got) != 3 {
		t.Fatalf("got %d endpoints: %+v", len(got), got)
	}
	byName := map[string]endpointSetting{}
	for _, s := range got {
		byName[s.name] = s
	}
	if s := byName["west"]; s.primary || !strings.Contains(s.connStr, "w.service") {
		t.Errorf("west = %+v", s)
	}
	east := byName["east"]
	cs, _, err := east.connectionString()
	if err != nil {
		t.Fatal(err)
	}
	if !east.primary || cs.AuthType != signalr.AuthTypeAzureMSI || cs.ClientID != "11111111-2222-3333-4444-555555555555" || cs.Endpoint.Host != "e.service.signalr.net" {
		t.Errorf("east = %+v -> %+v", east, cs)
	}
	if s := byName["default"]; !s.primary || s.connStr == "" {
		t.Errorf("default = %+v", s)
	}

	for _, bad := range [][]string{
		{"Azure__SignalR__Endpoints____primary=x"},
		{"Azure__SignalR__Endpoints__a__primary__serviceUri__x=y"},
	} {
		eps := ReadEndpoints(testConfig(), bad)
		if len(eps) == 0 || eps[0].Err == nil || apperrCode(eps[0].Err) != "config.endpoints" {
			t.Errorf("%v accepted: %+v", bad, eps)
		}
		if _, err := newEndpointSetFrom(testConfig(), bad, slog.New(slog.DiscardHandler), nil); err == nil {
			t.Errorf("%v: the handler starts", bad)
		}
	}
	sec := []string{"Azure__SignalR__Endpoints__only__secondary=Endpoint=https://w.service.signalr.net;AccessKey=k;Version=1.0;"}
	if _, err := newEndpointSetFrom(testConfig(), sec, slog.New(slog.DiscardHandler), nil); err == nil || !strings.Contains(err.Error(), "primary") {
		t.Errorf("only secondaries: %v", err)
	}
}

func apperrCode(err error) string { return apperr.Code(err) }

// TestEntraNegotiate: with an identity-based setting, negotiate signs with
// the key the service hands out (GET /api/v1/auth/accessKey, Entra bearer)
// and names it in kid; building the server makes no network call, and the
// first negotiate waits for the key. It runs in a synctest bubble against
// an in-memory service, so the slow key fetch costs no real time.
func TestEntraNegotiate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const derived = "derived-key-0123456789-0123456789-0123456789"
		const fetchTime = 100 * time.Millisecond
		var fetches atomic.Int32
		svc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/auth/accessKey" || r.Header.Get("Authorization") != "Bearer entra-token" {
				http.Error(w, "unexpected "+r.URL.Path, http.StatusUnauthorized)
				return
			}
			fetches.Add(1)
			time.Sleep(fetchTime) // a slow service, on the bubble's clock
			json.NewEncoder(w).Encode(map[string]string{"KeyId": "kid-1", "AccessKey": derived})
		})
		cred := &testutil.Credential{Token: "entra-token"}
		env := []string{
			"AzureSignalRConnectionString__serviceUri=http://127.0.0.1:1",
			"AzureSignalRConnectionString__credential=managedidentity",
		}
		cc := &clientConfig{credential: cred}
		cc.Transport = testutil.HandlerTransport{H: svc}
		s, err := newServer(testConfig(), slog.New(slog.DiscardHandler), env, cc)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		synctest.Wait()
		if fetches.Load() != 0 || cred.Calls() != 0 {
			t.Fatalf("construction made network calls: %d key fetches, %d token requests", fetches.Load(), cred.Calls())
		}
		for i := range 3 {
			start := time.Now()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/negotiate", nil))
			took := time.Since(start)
			if rec.Code != 200 {
				t.Fatalf("negotiate %d = %d %s", i, rec.Code, rec.Body)
			}
			if i == 0 && took < fetchTime {
				t.Errorf("first negotiate answered after %v, before the key fetch (%v) ended", took, fetchTime)
			}
			if i > 0 && took != 0 {
				t.Errorf("negotiate %d waited %v with the key cached", i, took)
			}
			var r struct{ URL, AccessToken string }
			json.Unmarshal(rec.Body.Bytes(), &r)
			tok, err := jwt.Parse(r.AccessToken, func(*jwt.Token) (any, error) { return []byte(derived), nil }, jwt.WithValidMethods([]string{"HS256"}))
			if err != nil {
				t.Fatalf("token does not verify with the service-issued key: %v", err)
			}
			if tok.Header["kid"] != "kid-1" {
				t.Errorf("kid = %v, want the service's KeyId", tok.Header["kid"])
			}
		}
		if n := fetches.Load(); n != 1 {
			t.Errorf("%d key fetches for 3 negotiates, want 1 (cached)", n)
		}
	})
}

// TestEntraKeyKeptFreshWhileIdle: after the first negotiate, the signing key
// is refreshed in the background on the SDK's timing although no client
// negotiates, so the next negotiate after a long idle period does not wait
// for a fetch. It runs in a synctest bubble (in-memory service, the
// production key-check interval), so hours pass in no real time and each
// check follows synctest.Wait, when the background work has settled.
func TestEntraKeyKeptFreshWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fetches atomic.Int32
		svc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := fetches.Add(1)
			json.NewEncoder(w).Encode(map[string]string{"KeyId": "kid-" + strconv.Itoa(int(n)), "AccessKey": "key-0123456789-0123456789-0123456789"})
		})
		env := []string{"AzureSignalRConnectionString__serviceUri=http://127.0.0.1:1", "AzureSignalRConnectionString__credential=managedidentity"}
		cfg := testConfig()
		cfg.HealthInterval = 0
		cc := &clientConfig{credential: &testutil.Credential{Token: "entra-token"}}
		cc.Transport = testutil.HandlerTransport{H: svc}
		s, err := newServer(cfg, slog.New(slog.DiscardHandler), env, cc)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Start(context.Background())

		negotiate := func() string {
			t.Helper()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/negotiate", nil))
			if rec.Code != 200 {
				t.Fatalf("negotiate = %d %s", rec.Code, rec.Body)
			}
			var r struct{ AccessToken string }
			json.Unmarshal(rec.Body.Bytes(), &r)
			tok, _, _ := jwt.NewParser().ParseUnverified(r.AccessToken, jwt.MapClaims{})
			return tok.Header["kid"].(string)
		}
		time.Sleep(3*keyCheckInterval + keyCheckInterval/2) // several background key checks
		synctest.Wait()
		if n := fetches.Load(); n != 0 {
			t.Fatalf("%d key fetches before any negotiate: starting must make no network call", n)
		}
		if kid := negotiate(); kid != "kid-1" {
			t.Fatalf("first kid %s", kid)
		}
		time.Sleep(56*time.Minute + keyCheckInterval/2) // past the 55-minute refresh, nobody negotiating
		synctest.Wait()
		if n := fetches.Load(); n != 2 {
			t.Fatalf("%d key fetches 56 idle minutes after the first, want 2 (refreshed in the background)", n)
		}
		time.Sleep(150*time.Minute - 56*time.Minute) // past the first key's 120-minute life
		synctest.Wait()
		if n := fetches.Load(); n != 3 {
			t.Fatalf("%d key fetches 150 idle minutes after the first, want 3", n)
		}
		if kid := negotiate(); kid != "kid-3" {
			t.Errorf("kid after an idle 150 minutes = %s, want the key refreshed in the background (kid-3)", kid)
		}
		if n := fetches.Load(); n != 3 {
			t.Errorf("%d fetches; negotiate should have used the refreshed key", n)
		}
	})
}
