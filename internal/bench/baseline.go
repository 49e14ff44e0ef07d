package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// baselineToken is a fixed 200-character stand-in for an access token: the
// handler's real tokens for the default hub are about the same length.
var baselineToken = strings.Repeat("abcdefghij", 20)

// baselineBody is the fixed negotiate-shaped answer of the baseline server.
var baselineBody = []byte(`{"url":"http://localhost:8888/client/?hub=chat","accessToken":"` + baselineToken + `"}`)

// runBaselineServer is the `bench baseline-server` subcommand: a bare
// net/http server on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT answering
// POST /api/negotiate with baselineBody and GET / with 200 — the least a Go
// process can do for the same request, the reference for the handler.
func runBaselineServer() error {
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		return errors.New("baseline-server: FUNCTIONS_CUSTOMHANDLER_PORT is not set")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /api/negotiate", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(baselineBody)
	})
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return fmt.Errorf("baseline-server: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
