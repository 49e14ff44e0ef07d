package server

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// Listen opens the handler's TCP listener on HANDLER_LISTEN_HOST and the
// port the Functions host chose, capped at HANDLER_MAX_CONNECTIONS open
// connections. A failure is a startup.listen_failed error that says what the
// operating system said (the address is in use, permission denied, ...), and
// names the port and the setting that chose it.
func Listen(cfg Config, logger *slog.Logger) (net.Listener, error) {
	cfg = cfg.listenerDefaults()
	addr := net.JoinHostPort(cfg.ListenHost, cfg.ListenPort())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError(cfg, addr, err)
	}
	return newLimitListener(ln, cfg.MaxConnections, logger), nil
}

// portSetting names the setting the listening port came from.
func (c Config) portSetting() string {
	switch {
	case c.Port != "":
		return "FUNCTIONS_CUSTOMHANDLER_PORT"
	case c.LegacyPort != "":
		return "FUNCTIONS_HTTPWORKER_PORT"
	case c.LocalHTTPPort != "":
		return "Host.LocalHttpPort in local.settings.json (FUNCTIONS_CUSTOMHANDLER_PORT is unset)"
	}
	return "FUNCTIONS_CUSTOMHANDLER_PORT (unset, so the default 7071)"
}

// listenError explains a failed net.Listen.
func listenError(cfg Config, addr string, err error) *apperr.Error {
	port := cfg.ListenPort()
	what := err.Error()
	var se *os.SyscallError
	if errors.As(err, &se) {
		what = se.Err.Error() // "address already in use", without the Go call chain
	}
	hint := ""
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		hint = fmt.Sprintf("Another process listens on port %s (a second `make dev` or `func start`? `ss -ltnp 'sport = :%s'` names it): stop it, or set FUNCTIONS_CUSTOMHANDLER_PORT to a free port.", port, port)
	case errors.Is(err, syscall.EACCES):
		hint = fmt.Sprintf("Port %s needs privileges on this system: set FUNCTIONS_CUSTOMHANDLER_PORT to a port above 1023.", port)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = fmt.Sprintf("%q is not an address of this machine: fix HANDLER_LISTEN_HOST (127.0.0.1, the address the Functions host calls, is the default).", cfg.ListenHost)
	}
	return &apperr.Error{
		Code:    apperr.CodeStartupListenFailed,
		Message: fmt.Sprintf("cannot listen on %s: %s (port %s from %s, host from HANDLER_LISTEN_HOST)", addr, what, port, cfg.portSetting()),
		Hint:    hint,
		Err:     err,
	}
}

// limitListener caps the number of open accepted connections: at the cap,
// Accept waits until one closes (new clients queue in the kernel's backlog
// instead of the process running out of file descriptors) and one warning
// says so per episode. It plays the part of golang.org/x/net/netutil's
// LimitListener, which cannot report that the cap was reached.
type limitListener struct {
	net.Listener
	sem    chan struct{}
	log    *slog.Logger
	mu     sync.Mutex
	atCap  bool // a warning was logged and the cap has not been left since
	closed chan struct{}
	once   sync.Once
}

func newLimitListener(ln net.Listener, n int, logger *slog.Logger) *limitListener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), log: logger, closed: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		l.mu.Lock()
		if !l.atCap {
			l.atCap = true
			l.log.Warn("connection limit reached: new connections wait until one closes",
				"code", apperr.CodeHandlerOverloaded, "max_connections", cap(l.sem), "setting", "HANDLER_MAX_CONNECTIONS")
		}
		l.mu.Unlock()
		select {
		case l.sem <- struct{}{}:
		case <-l.closed:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, l: l}, nil
}

// Close closes the listener and wakes a waiting Accept.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// release frees a slot; below three quarters of the cap, the next time the
// cap is reached is logged again.
func (l *limitListener) release() {
	<-l.sem
	if len(l.sem) <= cap(l.sem)*3/4 {
		l.mu.Lock()
		if l.atCap {
			l.atCap = false
			l.log.Info("connections below the limit again", "open", len(l.sem), "max_connections", cap(l.sem))
		}
		l.mu.Unlock()
	}
}

type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.release)
	return err
}

// httpServer is the http.Server of the handler: header and idle timeouts,
// the body timeout applied per request by [Server] (HANDLER_READ_TIMEOUT,
// see bodyDeadline), and net/http's own error lines ("http: Accept error",
// TLS handshake and panics) as JSON warnings through slog.
func httpServer(cfg Config, h http.Handler, logger *slog.Logger) *http.Server {
	cfg = cfg.listenerDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout),
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(&serverErrorWriter{log: logger}, "", 0),
	}
}

// serverErrorWriter turns each line net/http logs into one slog warning.
type serverErrorWriter struct{ log *slog.Logger }

func (w *serverErrorWriter) Write(p []byte) (int, error) {
	w.log.Warn("http server: "+strings.TrimSpace(string(p)), "source", "net/http")
	return len(p), nil
}
