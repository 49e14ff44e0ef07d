package main

import (
	"context"
	"io"

	"github.com/serverless-signalr/functions-go/internal/doctor"
)

// runDoctor runs `handler doctor`: it diagnoses the settings, the app
// layout, every configured endpoint, token size, CORS and (with --url)
// negotiate end to end, and fails when any check fails.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return doctor.Main(ctx, args, getenv, stdout, stderr)
}
