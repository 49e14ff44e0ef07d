// Command handler is the Azure Functions custom handler executable: the
// Functions host starts it (host.json defaultExecutablePath) and forwards
// negotiate and broadcast to it. `handler doctor` diagnoses the setup.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/doctor"
	"github.com/serverless-signalr/functions-go/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, server.EnvFrom(os.Environ()), os.Stdout, os.Stderr); err != nil {
		// Settings problems were explained by run; doctor printed its own.
		if !errors.Is(err, doctor.ErrChecksFailed) && apperr.Code(err) == apperr.CodeInternal {
			fmt.Fprintln(os.Stderr, "handler:", err)
		}
		os.Exit(1)
	}
}

// run is the whole program; tests call it. env is the process environment,
// read once by main: the server and the doctor read their settings from it
// (server.Load), and from local.settings.json in the working directory when
// no Functions host started the handler.
func run(ctx context.Context, args []string, env server.Env, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		switch {
		case args[1] == "doctor":
			return runDoctor(ctx, args[2:], env, stdout, stderr)
		case isHelp(args[1]):
			return usage(ctx, env, stdout)
		case isVersion(args[1]):
			return printVersion(stdout)
		}
	}
	err := server.Run(ctx, env, ".", stdout, stderr)
	if apperr.Code(err) != apperr.CodeInternal && err != nil {
		// A settings problem: print the finding `handler doctor` would
		// print, which the Functions host shows in its log.
		fmt.Fprintln(stderr, doctor.Explain(err))
	}
	return err
}
