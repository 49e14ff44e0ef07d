package signalr_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/serverless-signalr/functions-go/signalr"
)

// BenchmarkSendToAll measures one SendToAll against a loopback server
// answering 202: the default AccessKey client (the lean path), the same
// client on the azcore pipeline (selected by a no-op PerRetryPolicy), and
// a raw net/http POST of the same body with a cached server token.
func BenchmarkSendToAll(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	msg := signalr.Message{Target: "hello", Arguments: []byte(`[1]`)}
	client := func(b *testing.B, o *signalr.ClientOptions) *signalr.Client {
		b.Helper()
		c, err := signalr.NewClientFromConnectionString(connStr(b, srv.URL), o)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	run := func(b *testing.B, c *signalr.Client) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.SendToAll(ctx, "chat", msg, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("lean", func(b *testing.B) { run(b, client(b, quietOptions())) })
	b.Run("pipeline", func(b *testing.B) {
		o := quietOptions()
		o.PerRetryPolicies = []policy.Policy{nopPolicy{}}
		run(b, client(b, o))
	})
	b.Run("raw", func(b *testing.B) {
		u := srv.URL + "/api/hubs/chat/:send?api-version=" + signalr.APIVersion
		s, err := signalr.NewSigner(signalr.AccessKey{Value: testKey})
		if err != nil {
			b.Fatal(err)
		}
		tok, err := s.Sign(u, &signalr.TokenOptions{Lifetime: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		auth := []string{"Bearer " + tok}
		ctype := []string{"application/json; charset=utf-8"}
		body := []byte(`{"target":"hello","arguments":[1]}`)
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header["Authorization"] = auth
			req.Header["Content-Type"] = ctype
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
