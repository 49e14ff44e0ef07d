package server

import (
	"context"
	"log/slog"
	"strings"

	"github.com/serverless-signalr/functions-go/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
)

// endpoint is one Azure SignalR Service instance the handler negotiates for.
type endpoint struct {
	name string
	cs   *signalr.ConnectionString
	// hubs holds, per lower-cased allowed hub, the negotiate response's url
	// as a JSON string literal and the client token audience: both are
	// fixed by configuration, so they are built once.
	hubs map[string]hubTarget
	key  func(ctx context.Context) (signalr.AccessKey, error)
}

type hubTarget struct {
	urlJSON  []byte // "\"http://…/client/?hub=chat\""
	audience string
}

// endpointSet is every configured endpoint and the choice among them.
type endpointSet struct {
	list []*endpoint
}

func validateHub(h string) error { return signalr.ValidateHubName(h) }

// connStrError turns the SDK's connection-string error into the app's error
// with the same code.
func connStrError(setting string, err error) error {
	if ce, ok := err.(*signalr.ConnectionStringError); ok {
		return &apperr.Error{Code: ce.Code, Message: setting + ": " + ce.Message, Hint: ce.Hint}
	}
	return apperr.Wrap(err, apperr.CodeConfigInvalid, setting+" is invalid")
}

func newEndpointSet(cfg Config, log *slog.Logger) (*endpointSet, error) {
	if strings.TrimSpace(cfg.ConnectionString) == "" {
		return nil, apperr.New(apperr.CodeConfigConnStrMissing, "AzureSignalRConnectionString is not set", "")
	}
	cs, err := signalr.ParseConnectionString(cfg.ConnectionString)
	if err != nil {
		return nil, connStrError("AzureSignalRConnectionString", err)
	}
	if cs.UsesEntraID() {
		return nil, apperr.New(apperr.CodeConfigInvalid, "AuthType="+string(cs.AuthType)+" (Microsoft Entra ID) is not supported by this version of the handler", "Use an AccessKey connection string.")
	}
	ep := &endpoint{name: "default", cs: cs, hubs: map[string]hubTarget{}}
	key := signalr.AccessKey{Value: cs.AccessKey}
	ep.key = func(context.Context) (signalr.AccessKey, error) { return key, nil }
	allHubs := append([]string{cfg.HubName}, cfg.AllowedHubs...)
	for _, h := range allHubs {
		ep.hubs[strings.ToLower(h)] = hubTarget{
			urlJSON:  appendJSONString(nil, cs.ClientURL(h)),
			audience: cs.ClientAudience(h),
		}
	}
	return &endpointSet{list: []*endpoint{ep}}, nil
}

// pick chooses the endpoint for a negotiate.
func (s *endpointSet) pick() (*endpoint, error) {
	if len(s.list) == 0 {
		return nil, apperr.New(apperr.CodeNegotiateNoEndpoint, "no SignalR endpoint is configured", "")
	}
	return s.list[0], nil
}

// Start begins background health probes; none for a single endpoint.
func (s *endpointSet) Start(ctx context.Context) {}

// Close stops background work.
func (s *endpointSet) Close() {}
