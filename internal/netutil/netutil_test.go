package netutil_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/netutil"
)

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"example.com": false, "10.0.0.1": false, "localhost.example.com": false, "a.localhost": false, "": false,
	} {
		if got := netutil.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestIsTimeout(t *testing.T) {
	for err, want := range map[error]bool{
		context.DeadlineExceeded:                      true,
		fmt.Errorf("x: %w", context.DeadlineExceeded): true,
		os.ErrDeadlineExceeded:                        true,
		context.Canceled:                              false,
		errors.New("boom"):                            false,
	} {
		if got := netutil.IsTimeout(err); got != want {
			t.Errorf("IsTimeout(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"https://x.service.signalr.net":      "x.service.signalr.net:443",
		"http://localhost":                   "localhost:80",
		"http://127.0.0.1:8888/api":          "127.0.0.1:8888",
		"https://[::1]/x":                    "[::1]:443",
		"https://x.service.signalr.net:8443": "x.service.signalr.net:8443",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := netutil.HostPort(u); got != want {
			t.Errorf("HostPort(%s) = %q, want %q", in, got, want)
		}
	}
}
