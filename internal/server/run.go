package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// Run loads the settings from env (and, outside the Functions host, from
// dir's local.settings.json; see Load), listens on the port the Functions
// host gave (7071 without a host) and serves until ctx is done. A bad
// setting fails before anything listens, with the finding as a one-line
// JSON log on stderr and as the returned error. Info and debug records go
// to stdout, warnings and errors to stderr (see NewLogger).
func Run(ctx context.Context, env Env, dir string, stdout, stderr io.Writer) error {
	cfg, err := Load(env, dir)
	if err != nil {
		return startupError(stdout, stderr, err)
	}
	log := NewLogger(stdout, stderr, cfg.LogLevel)
	log.Debug("settings read", cfg.Sources.LogAttrs()...)
	srv, err := New(cfg, log)
	if err != nil {
		return startupError(stdout, stderr, err)
	}
	defer srv.Close()
	for _, w := range cfg.Warnings() {
		log.Warn("setting: "+w.Message, "code", w.Code, "hint", w.Body().Error.Hint)
	}

	ln, err := Listen(cfg, log)
	if err != nil {
		return startupError(stdout, stderr, err)
	}
	hs := httpServer(cfg, srv, log)
	srv.Start(ctx)
	log.Info("listening", "address", ln.Addr().String(), "hub", cfg.HubName)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdown)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	log.Info("stopped")
	return err
}

// startupError logs a startup failure as one JSON line and returns it as an
// *apperr.Error, so that the caller can explain it as `handler doctor` does.
func startupError(stdout, stderr io.Writer, err error) error {
	e := apperr.As(err)
	hint := e.Body().Error.Hint
	NewLogger(stdout, stderr, "error").Error("startup failed: "+e.Message, "code", e.Code, "hint", hint)
	return e
}
