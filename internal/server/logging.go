package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// NewLogger returns the handler's logger: one JSON object per line, debug
// and info records on stdout, warnings and errors on stderr, at the
// configured level.
//
// The split follows how the Functions host reads a worker's console
// (Azure/azure-functions-host, WorkerProcess.ParseErrorMessageAndLog): every
// stdout line is logged at Information; a stderr line is logged at Warning
// when it contains "warn" (any case) and at Error otherwise. A warning
// record always contains "warn" (its "level":"WARN"); an error record whose
// text happens to contain "warn" (a message quoting a warning, say) would
// be downgraded, so in error lines every "warn" is written with its first
// letter as a JSON \u escape: the decoded JSON is unchanged.
func NewLogger(stdout, stderr io.Writer, level string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(level)}
	return slog.New(&splitHandler{
		low:  slog.NewJSONHandler(stdout, opts),
		high: slog.NewJSONHandler(&errorLineWriter{w: stderr}, opts),
	})
}

// parseLevel maps LOG_LEVEL onto a slog level (info when unknown).
func parseLevel(level string) slog.Level {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// splitHandler sends records below warn to low and the rest to high.
type splitHandler struct{ low, high slog.Handler }

func (h *splitHandler) pick(l slog.Level) slog.Handler {
	if l >= slog.LevelWarn {
		return h.high
	}
	return h.low
}

func (h *splitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.pick(l).Enabled(ctx, l)
}

func (h *splitHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

func (h *splitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &splitHandler{low: h.low.WithAttrs(attrs), high: h.high.WithAttrs(attrs)}
}

func (h *splitHandler) WithGroup(name string) slog.Handler {
	return &splitHandler{low: h.low.WithGroup(name), high: h.high.WithGroup(name)}
}

// errorLineWriter writes the JSON lines of warn and error records. A line
// that is not a warning (no `"level":"WARN"`) gets every "warn" escaped, so
// the host does not log an error as a warning. slog's JSON handler writes
// each record with one Write call, and "warn" can only occur inside JSON
// strings, where \u0077 (w) and \u0057 (W) are valid escapes.
type errorLineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

var warnLevel = []byte(`"level":"WARN`)

func (e *errorLineWriter) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if bytes.Contains(p, warnLevel) || !containsFold(p, "warn") {
		return e.w.Write(p)
	}
	out := make([]byte, 0, len(p)+16)
	for i := 0; i < len(p); {
		if i+4 <= len(p) && strings.EqualFold(string(p[i:i+4]), "warn") {
			if p[i] == 'W' {
				out = append(out, `\u0057`...)
			} else {
				out = append(out, `\u0077`...)
			}
			out = append(out, p[i+1:i+4]...)
			i += 4
			continue
		}
		out = append(out, p[i])
		i++
	}
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// containsFold reports whether s contains sub, ignoring ASCII case.
func containsFold(p []byte, sub string) bool {
	return bytes.Contains(bytes.ToLower(p), []byte(sub))
}
