package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	return serveUntilSignal("baseline-server", port, mux)
}

// serveUntilSignal serves h on 127.0.0.1:port until SIGINT or SIGTERM.
func serveUntilSignal(name, port string, h http.Handler) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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

// runHopServer is the `bench hop-server` subcommand: the least a Go
// process can do for a broadcast, the reference for the handler's hop. On
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT it answers GET / with 200 and
// POST /api/broadcast by reading the body (at most 1 MiB) and POSTing it
// with net/http to $BENCH_HOP_TARGET (the emulator's …/:send) with the
// Authorization $BENCH_HOP_AUTH (a cached token), then 202. No
// validation, retries or summary: what any Go hop costs.
func runHopServer() error {
	port, target, auth := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), os.Getenv("BENCH_HOP_TARGET"), os.Getenv("BENCH_HOP_AUTH")
	if port == "" || target == "" || auth == "" {
		return errors.New("hop-server: FUNCTIONS_CUSTOMHANDLER_PORT, BENCH_HOP_TARGET and BENCH_HOP_AUTH must be set")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {auth}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /api/broadcast", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := send(r.Context(), client, http.MethodPost, target, header, body, http.StatusAccepted); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header()["Content-Type"] = jsonHeader["Content-Type"]
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"sent":1}`))
	})
	return serveUntilSignal("hop-server", port, mux)
}
