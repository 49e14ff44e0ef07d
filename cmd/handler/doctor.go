package main

import (
	"context"
	"errors"
	"io"
)

// runDoctor runs `handler doctor`.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("doctor is not implemented yet")
}
