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

// LargeBroadcast is a broadcast body (a JSON array) of at most size bytes
// made of messages of about 900 kB each, under the service's 1 MB limit per
// message: the memory tests and `make bench` send it.
func LargeBroadcast(size int) []byte {
	msg := `{"target":"t","arguments":["` + strings.Repeat("x", 900_000) + `"]}`
	b := make([]byte, 0, size)
	b = append(b, '[')
	for len(b)+len(msg)+2 <= size {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, msg...)
	}
	return append(b, ']')
}
