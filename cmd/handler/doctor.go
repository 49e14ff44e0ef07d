package main

import (
	"context"
	"io"

	"github.com/serverless-signalr/functions-go/internal/doctor"
	"github.com/serverless-signalr/functions-go/internal/server"
)

// runDoctor runs `handler doctor`: it diagnoses the settings, the app
// layout, every configured endpoint, token size, CORS and (with --url)
// negotiate end to end, and fails when any check fails.
func runDoctor(ctx context.Context, args []string, env server.Env, stdout, stderr io.Writer) error {
	return doctor.Main(ctx, args, env, stdout, stderr)
}
