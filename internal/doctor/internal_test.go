package doctor

import (
	"net/url"
	"testing"
)

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
