package testutil

import "strings"

// HostSeverity is the level at which the Functions host logs one console
// line of a custom handler (Azure/azure-functions-host,
// WorkerProcess.ParseErrorMessageAndLog, with UseStdErrorStreamForErrorsOnly
// as for HTTP workers): every stdout line at "Information"; a stderr line at
// "Warning" when it contains "warn" in any case, else at "Error".
func HostSeverity(stream, line string) string {
	switch {
	case stream == "stdout":
		return "Information"
	case strings.Contains(strings.ToLower(line), "warn"):
		return "Warning"
	}
	return "Error"
}
