package signalr

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerOptions configures the client's circuit breaker for its endpoint.
// Only failures that show the endpoint is sick count: 5xx responses,
// timeouts, connection and TLS failures. 4xx responses (including 429)
// count as successes. While open, calls fail at once with a
// [*CircuitOpenError]; after OpenTimeout the breaker lets HalfOpenProbes
// calls through and closes again when they all succeed.
type BreakerOptions struct {
	// Disabled turns the breaker off.
	Disabled bool
	// Failures is the number of consecutive failed tries that opens the
	// breaker; default 5.
	Failures uint32
	// OpenTimeout is how long the breaker stays open before it half-opens;
	// default 30s.
	OpenTimeout time.Duration
	// HalfOpenProbes is the number of tries let through while half-open;
	// default 1.
	HalfOpenProbes uint32
}

var (
	errSick     = errors.New("endpoint failure")
	errExcluded = errors.New("not the endpoint's fault")
)

// breaker wraps a gobreaker two-step breaker; a nil *breaker allows all.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

func newBreaker(o BreakerOptions, endpoint string, log *slog.Logger) *breaker {
	if o.Disabled {
		return nil
	}
	if o.Failures == 0 {
		o.Failures = 5
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 30 * time.Second
	}
	if o.HalfOpenProbes == 0 {
		o.HalfOpenProbes = 1
	}
	failures := o.Failures
	return &breaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        endpoint,
		MaxRequests: o.HalfOpenProbes,
		Timeout:     o.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, errExcluded) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			log.Warn("signalr: circuit breaker state changed", "endpoint", name, "from", from.String(), "to", to.String())
		},
	})}
}

// allow asks for permission to try; done must be called with nil (healthy),
// errSick or errExcluded.
func (b *breaker) allow() (func(error), error) {
	if b == nil {
		return func(error) {}, nil
	}
	return b.cb.Allow()
}

func (b *breaker) state() BreakerState {
	if b == nil {
		return BreakerClosed
	}
	switch b.cb.State() {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
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
