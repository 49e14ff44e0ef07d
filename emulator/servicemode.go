package emulator

import (
	"fmt"
	"strings"
)

// Service modes of Options.ServiceMode.
const (
	// ServiceModeServerless is the mode of a Functions backend: clients
	// connect and the backend reaches them through the REST API.
	ServiceModeServerless = "serverless"
	// ServiceModeDefault emulates a service in Default mode with no app
	// server connected: clients negotiate, but every client handshake is
	// refused with DefaultModeNoServerError, as the real service does.
	ServiceModeDefault = "default"
)

// DefaultModeNoServerError is the handshake error the real service answers
// in Default mode when no app server is connected (word for word).
const DefaultModeNoServerError = "SignalR Service is now in 'Default' service mode. Current mode works as a proxy that routes client traffic to the connected app servers. However app servers are not connected."

// ParseServiceMode returns the service mode named by s (case-insensitive;
// empty means ServiceModeServerless), or an error saying which values are
// allowed.
func ParseServiceMode(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", ServiceModeServerless:
		return ServiceModeServerless, nil
	case ServiceModeDefault:
		return ServiceModeDefault, nil
	}
	return "", fmt.Errorf("unknown service mode %q: use %q or %q (Default mode without app servers)", s, ServiceModeServerless, ServiceModeDefault)
}

// handshakeRefusal is the handshake error every client gets in the
// configured mode, or "" when handshakes are judged on their content.
func (e *Emulator) handshakeRefusal() string {
	if e.serviceMode == ServiceModeDefault {
		return DefaultModeNoServerError
	}
	return ""
}
