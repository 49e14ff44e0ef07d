//go:build !unix

package signalr

import "net"

// alive reports whether an idle connection still looks open; without a
// non-blocking peek on this system it always does, and a stale
// connection fails its next request as with net/http's transport when
// its read loop has not yet noticed the close.
func alive(net.Conn) bool { return true }
