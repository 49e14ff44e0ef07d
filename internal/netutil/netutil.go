// Package netutil holds the one copy of the network helpers the SDK,
// the handler and the doctor share.
package netutil

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
)

// IsLoopback reports whether host (a URL's host name, possibly an IPv6
// literal in brackets or with a trailing dot) is "localhost" or a loopback
// IP address. Other names under .localhost are not trusted: they are
// resolved like any other name.
func IsLoopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// IsTimeout reports whether err is a context deadline or a network
// timeout (including os.ErrDeadlineExceeded, which is a net.Error).
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// HostPort returns u's host:port, with the scheme's default port (443 for
// https, else 80) when u has none.
func HostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
