package netutil_test

import (
	"context"
	"errors"
	"fmt"
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
