package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHelpAndVersion: -h and --help print the usage (serve, doctor and its
// flags, where settings come from) and exit 0 without listening; `version`
// prints the version and the commit set at build time.
func TestHelpAndVersion(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "help"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, handlerBin, arg)
		cmd.Env = []string{"FUNCTIONS_CUSTOMHANDLER_PORT=" + freePort(t)} // no connection string: serving would fail
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Errorf("handler %s: %v\n%s%s", arg, err, stdout.String(), stderr.String())
		}
		for _, want := range []string{"handler doctor [flags]", "-url", "-publish", "handler version", "local.settings.json", "FUNCTIONS_CUSTOMHANDLER_PORT", "AzureSignalRConnectionString", "HANDLER_READ_TIMEOUT", "Duration"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("handler %s: usage lacks %q:\n%s", arg, want, stdout.String())
			}
		}
		if strings.Contains(stdout.String()+stderr.String(), "listening") || stderr.Len() != 0 {
			t.Errorf("handler %s tried to serve: %s", arg, stderr.String())
		}
	}

	bin := t.TempDir() + "/handler"
	build := exec.Command("go", "build", "-ldflags=-X main.version=v1.2.3 -X main.commit=abc1234", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil || !strings.HasPrefix(string(out), "handler v1.2.3 (commit abc1234, go") {
			t.Errorf("handler %s = %q, %v", arg, out, err)
		}
	}
	if out, err := exec.Command(handlerBin, "version").Output(); err != nil || !strings.Contains(string(out), "commit ") {
		t.Errorf("handler version without ldflags = %q, %v", out, err)
	}
}
