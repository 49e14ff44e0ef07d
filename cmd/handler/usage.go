package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/serverless-signalr/functions-go/internal/doctor"
	"github.com/serverless-signalr/functions-go/internal/server"
)

// version and commit are set at build time by the Makefile
// (-ldflags "-X main.version=... -X main.commit=..."); without them the
// module version and VCS revision recorded by the Go toolchain are used.
var (
	version = ""
	commit  = ""
)

// isHelp reports whether arg asks for the usage text.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// isVersion reports whether arg asks for the version.
func isVersion(arg string) bool {
	switch arg {
	case "version", "-version", "--version":
		return true
	}
	return false
}

// usage prints how to run the handler, then the doctor's flags.
func usage(ctx context.Context, env server.Env, w io.Writer) error {
	fmt.Fprint(w, `usage:
  handler                serve: the Azure Functions custom handler (what host.json runs)
  handler doctor [flags] diagnose settings, app layout, endpoints, token size, CORS, negotiate
  handler version        print the version and commit
  handler -h | --help    print this text

Settings come from the environment: app settings in Azure, Values of
local.settings.json under `+"`func start`"+`. Without a Functions host the handler also
reads local.settings.json in its working directory (the environment wins).
The port is FUNCTIONS_CUSTOMHANDLER_PORT (set by the host), else
FUNCTIONS_HTTPWORKER_PORT, else Host.LocalHttpPort, else 7071; the address is
HANDLER_LISTEN_HOST (127.0.0.1). The connection string is
AzureSignalRConnectionString. README.md lists every setting.

Logs: one JSON object per line, info on stdout, warnings and errors on stderr.
Other arguments are ignored (older Functions hosts passed --workerId and --port).

Settings (README.md says what each does):
`)
	if err := server.WriteSettingsUsage(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return doctor.Main(ctx, []string{"-h"}, env, w, w)
}

// printVersion prints "handler <version> (commit <commit>, <go version>)".
func printVersion(w io.Writer) error {
	v, c := version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	}
	_, err := fmt.Fprintf(w, "handler %s (commit %s, %s %s/%s)\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
