package testutil_test

import (
	"bufio"
	"io"
	"net"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/testutil"
)

func TestServeTCP(t *testing.T) {
	addr := testutil.ServeTCP(t, func(c net.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "echo "+line)
	})
	for range 2 { // each connection is served, and closed after serve
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "hi\n")
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != "echo hi\n" {
			t.Fatalf("got %q, %v (want the echo, then the end of the stream)", b, err)
		}
	}
}
