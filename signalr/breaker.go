package signalr

import (
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// BreakerOptions configures the client's circuit breaker for its endpoint.
// Only failures that show the endpoint is sick count: 5xx responses,
// timeouts, connection and TLS failures. 4xx responses (including 429)
// count as successes. While open, calls fail at once with a
// [*CircuitOpenError]. After the open time the breaker half-opens and lets
// HalfOpenProbes calls through: a success closes it, a failure opens it
// again for twice as long (from OpenTimeout up to MaxOpenTimeout), so a
// recovered service is used again within MaxOpenTimeout. [Client.Health]
// always reaches the service, and its success closes the breaker at once.
type BreakerOptions struct {
	// Disabled turns the breaker off.
	Disabled bool
	// Failures is the number of consecutive failed tries that opens the
	// breaker; default 5.
	Failures uint32
	// OpenTimeout is how long the breaker first stays open before it
	// half-opens; default 1s.
	OpenTimeout time.Duration
	// MaxOpenTimeout caps the open time, which doubles after every failed
	// half-open probe; default 4s.
	MaxOpenTimeout time.Duration
	// HalfOpenProbes is the number of tries let through while half-open;
	// default 1.
	HalfOpenProbes uint32
}

// outcome is what a try tells the breaker.
type outcome int

const (
	outcomeHealthy  outcome = iota // the endpoint answered sanely
	outcomeSick                    // 5xx, timeout, connection or TLS failure
	outcomeExcluded                // not the endpoint's fault (caller, credential)
)

// breaker is a consecutive-failure circuit breaker with exponential open
// times. The package does not use a library breaker because none it could
// find both grows the open time after failed probes and can be closed by
// an out-of-band health probe. A nil *breaker allows everything.
type breaker struct {
	o        BreakerOptions
	endpoint string
	log      *slog.Logger

	mu       sync.Mutex
	state    BreakerState
	failures uint32        // consecutive, while closed
	open     time.Duration // the current open time
	until    time.Time     // end of the open time
	probes   uint32        // half-open tries in flight
}

func newBreaker(o BreakerOptions, endpoint string, log *slog.Logger) *breaker {
	if o.Disabled {
		return nil
	}
	if o.Failures == 0 {
		o.Failures = 5
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = time.Second
	}
	if o.MaxOpenTimeout <= 0 {
		o.MaxOpenTimeout = 4 * time.Second
	}
	if o.MaxOpenTimeout < o.OpenTimeout {
		o.MaxOpenTimeout = o.OpenTimeout
	}
	if o.HalfOpenProbes == 0 {
		o.HalfOpenProbes = 1
	}
	return &breaker{o: o, endpoint: endpoint, log: log}
}

// allow asks for permission to try. ok is false while the breaker fails
// fast; otherwise the ticket's done must be called once with the try's
// outcome.
func (b *breaker) allow() (t ticket, ok bool) {
	if b == nil {
		return ticket{}, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(time.Now())
	switch b.state {
	case BreakerOpen:
		return ticket{}, false
	case BreakerHalfOpen:
		if b.probes >= b.o.HalfOpenProbes {
			return ticket{}, false
		}
		b.probes++
		return ticket{b: b, probe: true}, true
	}
	return ticket{b: b}, true
}

// bypass is allow for a health probe: it always lets the try through, and
// its outcome counts like any other (a success closes the breaker).
func (b *breaker) bypass() ticket { return ticket{b: b} }

// ticket is the breaker's permission for one try (a value, so that a try
// costs no allocation); the zero ticket, from a disabled breaker, reports
// nothing.
type ticket struct {
	b     *breaker
	probe bool // a half-open probe
}

// done reports the try's outcome; call it exactly once.
func (t ticket) done(o outcome) {
	if t.b != nil {
		t.b.report(o, t.probe)
	}
}

// tick moves an open breaker whose time is over to half-open; b.mu is held.
func (b *breaker) tick(now time.Time) {
	if b.state == BreakerOpen && !now.Before(b.until) {
		b.set(BreakerHalfOpen)
		b.probes = 0
	}
}

func (b *breaker) report(o outcome, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe && b.probes > 0 {
		b.probes--
	}
	switch o {
	case outcomeExcluded:
		return
	case outcomeHealthy:
		b.failures = 0
		if b.state != BreakerClosed {
			b.open = 0
			b.set(BreakerClosed)
		}
		return
	}
	switch b.state {
	case BreakerClosed:
		b.failures++
		if b.failures >= b.o.Failures {
			b.trip(b.o.OpenTimeout)
		}
	case BreakerHalfOpen:
		b.trip(min(2*b.open, b.o.MaxOpenTimeout))
	}
}

// trip opens the breaker for d; b.mu is held.
func (b *breaker) trip(d time.Duration) {
	if d <= 0 {
		d = b.o.OpenTimeout
	}
	b.open, b.until, b.failures = d, time.Now().Add(d), 0
	b.set(BreakerOpen)
}

// set changes the state and logs the change; b.mu is held.
func (b *breaker) set(s BreakerState) {
	if s == b.state {
		return
	}
	b.log.Warn("signalr: circuit breaker state changed", "endpoint", b.endpoint, "from", b.state.String(), "to", s.String(), "open", b.open)
	b.state = s
}

func (b *breaker) current() BreakerState {
	if b == nil {
		return BreakerClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(time.Now())
	return b.state
}

// BreakerState is the state of a client's circuit breaker.
type BreakerState int

// The states of the circuit breaker.
const (
	// BreakerClosed: calls go through (also when the breaker is disabled).
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen: the open time is over; the next calls probe the endpoint.
	BreakerHalfOpen
	// BreakerOpen: calls fail at once with a [*CircuitOpenError].
	BreakerOpen
)

// String returns "closed", "half-open" or "open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "BreakerState(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the state as its String, for JSON and logs.
func (s BreakerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
