// Command signalr-emulator runs a local emulator of Azure SignalR Service in
// serverless mode (or, with -mode default, in Default mode without app
// servers, to reproduce that misconfiguration). It prints the connection string to put in local settings
// and logs JSON to stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/serverless-signalr/functions-go/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "signalr-emulator:", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("signalr-emulator", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8888", "listen address (host:port); keep it on loopback")
	key := fs.String("key", emulator.DefaultAccessKey, "AccessKey tokens must be signed with (the well-known development key by default)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	keepalive := fs.Duration("keepalive", emulator.DefaultPingInterval, "interval of server pings on WebSockets and Server-Sent Events; longer than the client's server timeout (30 s by default) reproduces a keep-alive mistake")
	clientTimeout := fs.Duration("client-timeout", emulator.DefaultClientTimeout, "close a WebSocket or Server-Sent Events client that sent nothing (not even a ping) for this long (the service's 30 s); 0 never does")
	reconnectWindow := fs.Duration("reconnect-window", emulator.DefaultReconnectWindow, "how long a stateful-reconnect connection whose WebSocket dropped waits for its client")
	modeFlag := fs.String("mode", emulator.ServiceModeServerless, "service mode: serverless, or default (Default mode with no app server connected: every client handshake is refused, to reproduce that misconfiguration)")
	upstreamURL := fs.String("upstream", "", "upstream URL template for every hub, category and event ({hub}, {category}, {event} are replaced), e.g. http://localhost:7071/api/upstream")
	upstreamConfig := fs.String("config", "", "settings.json in Microsoft's emulator's format: UpstreamSettings.Templates (UrlTemplate, HubPattern, CategoryPattern, EventPattern), after -upstream")
	upstreamTimeout := fs.Duration("upstream-timeout", emulator.DefaultUpstreamTimeout, "bound of one upstream call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("invalid -log-level %q: use debug, info, warn or error", *level)
	}
	if *keepalive <= 0 {
		return fmt.Errorf("invalid -keepalive %v: use a positive duration such as 15s", *keepalive)
	}
	if *clientTimeout < 0 {
		return fmt.Errorf("invalid -client-timeout %v: use a duration such as 30s, or 0 to never time clients out", *clientTimeout)
	}
	if *reconnectWindow <= 0 {
		return fmt.Errorf("invalid -reconnect-window %v: use a positive duration such as 15s", *reconnectWindow)
	}
	ct := *clientTimeout
	if ct == 0 {
		ct = -1 // Options: negative means never
	}
	mode, err := emulator.ParseServiceMode(*modeFlag)
	if err != nil {
		return fmt.Errorf("invalid -mode %q: use serverless or default", *modeFlag)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: lvl}))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	upstreams, err := emulator.UpstreamFlags(*upstreamURL, *upstreamConfig)
	if err != nil {
		return err
	}
	em := emulator.New(emulator.Options{AccessKey: *key, Logger: log, ServiceMode: mode, PingInterval: *keepalive, ClientTimeout: ct, ReconnectWindow: *reconnectWindow,
		Upstreams: upstreams, UpstreamTimeout: *upstreamTimeout})
	srv := &http.Server{
		Handler:           em,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	base := publicBaseURL(ln.Addr().(*net.TCPAddr))
	fmt.Fprintf(stdout, "SignalR emulator (%s mode) listening on %s\n", mode, ln.Addr())
	if mode == emulator.ServiceModeDefault {
		fmt.Fprintln(stdout, "Default mode without app servers: clients negotiate, but every client handshake is refused with:\n  "+emulator.DefaultModeNoServerError)
	}
	fmt.Fprintf(stdout, "Connection string for local settings (AzureSignalRConnectionString):\n%s\n", em.ConnectionString(base))
	fmt.Fprintf(stdout, "The same with the port in Endpoint, for tools that ignore Port= (Dapr's SignalR binding, hand-written parsers); this handler and the Azure SDKs take either:\n%s\n", em.ConnectionStringPortInEndpoint(base))
	log.Info("emulator started", "addr", ln.Addr().String(), "endpoint", base)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("emulator shutting down")
	_ = em.Close() // hijacked WebSockets are not covered by Shutdown
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// publicBaseURL is the endpoint users put in their settings: loopback and
// unspecified addresses become "localhost".
func publicBaseURL(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsLoopback() || a.IP.IsUnspecified() {
		host = "localhost"
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("http://%s:%d", host, a.Port)
}
