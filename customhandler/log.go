package customhandler

import (
	"context"
	"strconv"
	"sync"
)

// maxLogs bounds the Logs of one invocation; further lines are counted and
// reported in one final line.
const maxLogs = 256

type invocationKey struct{}

// invocation collects the Logs of one JSON-mode invocation.
type invocation struct {
	mu      sync.Mutex
	logs    []string
	dropped int
	done    bool
}

func (inv *invocation) add(msg string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	switch {
	case inv.done:
	case len(inv.logs) < maxLogs:
		inv.logs = append(inv.logs, msg)
	default:
		inv.dropped++
	}
}

// take ends the invocation and returns its Logs (never nil); later calls to
// [Log] are ignored.
func (inv *invocation) take() []string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.done = true
	logs := inv.logs
	if inv.dropped > 0 {
		logs = append(logs, "customhandler: "+strconv.Itoa(inv.dropped)+" more log lines dropped")
	}
	if logs == nil {
		logs = []string{}
	}
	return logs
}

// Log appends msg to the Logs of the invocation ctx belongs to, when the
// request came through [Handler] in JSON mode; the host records each line at
// Information in the invocation's log (Application Insights traces). With
// any other ctx (forwarded mode, tests) it does nothing and does not
// allocate. It is safe for concurrent use; at most 256 lines are kept per
// invocation, and lines logged after the handler returned are dropped.
// Never log secrets: the lines reach the host's logs as they are.
func Log(ctx context.Context, msg string) {
	if inv := invocationOf(ctx); inv != nil {
		inv.add(msg)
	}
}

// Logging reports whether [Log] records lines for ctx (the request came
// through [Handler] in JSON mode), so that a caller can skip formatting a
// line nobody will read.
func Logging(ctx context.Context) bool { return invocationOf(ctx) != nil }

func invocationOf(ctx context.Context) *invocation {
	if ctx == nil {
		return nil
	}
	inv, _ := ctx.Value(invocationKey{}).(*invocation)
	return inv
}
