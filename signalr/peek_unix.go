//go:build unix

package signalr

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection still looks open: a
// non-blocking peek at its socket finds neither an end of file (the peer
// closed it) nor bytes nobody asked for (an answer to no request, such as
// a 408 before a close). A connection that is not a socket counts as open.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && open
}
