package doctor

import (
	"net/url"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "app.localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"contoso.service.signalr.net": false, "10.0.0.1": false, "localhost.example.com": false, "": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %t, want %t", host, got, want)
		}
	}
}

func TestNegotiateURLAndAudience(t *testing.T) {
	cases := []struct{ base, negotiate, aud string }{
		{"http://localhost:7071/api", "http://localhost:7071/api/negotiate?negotiateVersion=1", "http://localhost/api"},
		{"http://localhost:8888/client/?hub=chat", "http://localhost:8888/client/negotiate?hub=chat&negotiateVersion=1", "http://localhost/client/?hub=chat"},
		{"https://x.service.signalr.net/client/?hub=chat&negotiateVersion=1", "https://x.service.signalr.net/client/negotiate?hub=chat&negotiateVersion=1", "https://x.service.signalr.net/client/?hub=chat&negotiateVersion=1"},
		{"http://[::1]:8888/client/?hub=a", "http://[::1]:8888/client/negotiate?hub=a&negotiateVersion=1", "http://[::1]/client/?hub=a"},
	}
	for _, c := range cases {
		u, err := url.Parse(c.base)
		if err != nil {
			t.Fatal(err)
		}
		if got := negotiateURL(u); got != c.negotiate {
			t.Errorf("negotiateURL(%s) = %s, want %s", c.base, got, c.negotiate)
		}
		if got := expectedAudience(u); got != c.aud {
			t.Errorf("expectedAudience(%s) = %s, want %s", c.base, got, c.aud)
		}
	}
}

func TestEscapeDataString(t *testing.T) {
	if got := escapeDataString("a.b_c~d-e`f,g[h]/ i"); got != "a.b_c~d-e%60f%2Cg%5Bh%5D%2F%20i" {
		t.Errorf("got %s", got)
	}
}
