//go:build !unix

package signalr

import "net"

// peeker returns the check of an idle connection before its reuse; without
// a non-blocking peek on this system a connection always looks open, and
// a stale one fails its next request as with net/http's transport when its
// read loop has not yet noticed the close.
func peeker(net.Conn) func() bool { return func() bool { return true } }
