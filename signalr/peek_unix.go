//go:build unix

package signalr

import (
	"net"
	"syscall"
)

// peeker returns the check of an idle connection before its reuse: it
// reports whether c still looks open, that is whether a non-blocking peek
// at its socket finds neither an end of file (the peer closed it) nor
// bytes nobody asked for (an answer to no request, such as a 408 before a
// close). Built once per connection, a check allocates nothing. A
// connection that is not a socket always looks open.
func peeker(c net.Conn) func() bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return func() bool { return true }
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() bool { return false }
	}
	var (
		b    [1]byte
		open bool
	)
	peek := func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	}
	return func() bool {
		open = false
		return rc.Read(peek) == nil && open
	}
}
