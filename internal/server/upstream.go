package server

import (
	"errors"
	"net/http"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
	"github.com/serverless-signalr/functions-go/signalr"
	"github.com/serverless-signalr/functions-go/signalr/serverless"
)

// newUpstream builds the upstream function: the chat hub behind a
// validator that accepts the signatures of every endpoint's AccessKey and,
// when UPSTREAM_TOKEN_ISSUER/UPSTREAM_TOKEN_AUDIENCE are set, the
// managed-identity bearer token of endpoints without one (checked by the
// same identity resolver as negotiate's bearer tokens, against
// UPSTREAM_JWKS_URL).
func (s *Server) newUpstream() (*serverless.Hub, error) {
	var css []*signalr.ConnectionString
	var clients []*signalr.Client
	for _, e := range s.endpoints.list {
		css = append(css, e.cs)
		clients = append(clients, e.client)
	}
	opts := signalr.UpstreamOptions{Endpoints: css, AllowUnsigned: s.cfg.UpstreamAllowUnsigned}
	if s.cfg.UpstreamTokenIssuer != "" {
		res, err := identity.New(identity.Config{
			JWKSURL:     s.cfg.UpstreamJWKSURL,
			Issuer:      s.cfg.UpstreamTokenIssuer,
			Audiences:   trimList(s.cfg.UpstreamTokenAudience),
			Leeway:      s.cfg.JWTLeeway,
			UserIDClaim: "sub",
			Logger:      s.log,
		})
		if err != nil {
			return nil, apperr.As(err)
		}
		s.upstreamIdentity = res
		opts.VerifyToken = func(r *http.Request) error {
			_, err := res.Resolve(r)
			return err
		}
	}
	v, err := signalr.NewUpstreamValidator(opts)
	if err != nil {
		// Only Entra ID endpoints and nothing to check their calls with:
		// serve anyway, so the service's calls get the 401 that says so.
		opts.VerifyToken = func(*http.Request) error {
			return errors.New("UPSTREAM_TOKEN_ISSUER and UPSTREAM_TOKEN_AUDIENCE are not set")
		}
		if v, err = signalr.NewUpstreamValidator(opts); err != nil {
			return nil, apperr.Wrap(err, apperr.CodeInternal, "the upstream validator could not be built")
		}
	}
	return newChatHub(s.cfg.HubName, serverless.Options{
		Validator: v,
		Clients:   clients,
		Timeout:   s.cfg.UpstreamTimeout,
		Logger:    s.log,
		OnError: func(w http.ResponseWriter, r *http.Request, e *signalr.UpstreamError) {
			s.fail(w, r, apperr.FromSignalR(e))
		},
	}), nil
}
