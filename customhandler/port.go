package customhandler

import "strings"

// Environment variables the Functions host sets for the handler process.
const (
	EnvCustomHandlerPort = "FUNCTIONS_CUSTOMHANDLER_PORT"
	EnvHTTPWorkerPort    = "FUNCTIONS_HTTPWORKER_PORT" // legacy name, still set
	// DefaultPort is the port used outside the host (the host's own default
	// for local runs is 7071 too).
	DefaultPort = "7071"
)

// Port returns the port the handler must listen on: FUNCTIONS_CUSTOMHANDLER_PORT,
// else the legacy FUNCTIONS_HTTPWORKER_PORT, else [DefaultPort]. Blank values
// count as unset. The host calls the handler at 127.0.0.1:<port> and passes
// no command-line flags, so the environment is the only source.
func Port(getenv func(string) string) string {
	for _, k := range []string{EnvCustomHandlerPort, EnvHTTPWorkerPort} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return DefaultPort
}

// IsFunctionsHost reports whether the process was started by the Functions
// host, that is whether FUNCTIONS_CUSTOMHANDLER_PORT or
// FUNCTIONS_HTTPWORKER_PORT is set.
func IsFunctionsHost(getenv func(string) string) bool {
	return strings.TrimSpace(getenv(EnvCustomHandlerPort)) != "" || strings.TrimSpace(getenv(EnvHTTPWorkerPort)) != ""
}
