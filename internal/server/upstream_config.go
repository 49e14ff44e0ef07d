package server

import (
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// Bounds of UPSTREAM_TIMEOUT, the per-call timeout of hub methods.
const (
	minUpstreamTimeout = 100 * time.Millisecond
	maxUpstreamTimeout = 10 * time.Minute
)

// validateUpstream checks the UPSTREAM_* settings (a zero timeout means the
// hub API's default).
func (c Config) validateUpstream() error {
	if c.UpstreamTimeout != 0 && c.UpstreamTimeout < minUpstreamTimeout || c.UpstreamTimeout > maxUpstreamTimeout {
		return apperr.New(apperr.CodeConfigInvalid, "setting UPSTREAM_TIMEOUT: "+c.UpstreamTimeout.String()+" is outside 100ms..10m", "")
	}
	if c.UpstreamAllowUnsigned && c.InAzure() {
		return apperr.New(apperr.CodeConfigUpstreamUnsigned,
			"UPSTREAM_ALLOW_UNSIGNED=true accepts upstream calls nobody signed and is refused in Azure (WEBSITE_INSTANCE_ID is set)", "")
	}
	if (c.UpstreamTokenIssuer == "") != (len(trimList(c.UpstreamTokenAudience)) == 0) {
		return apperr.New(apperr.CodeConfigIdentity,
			"UPSTREAM_TOKEN_ISSUER and UPSTREAM_TOKEN_AUDIENCE go together: the upstream's managed-identity token is only checked when both are set", "")
	}
	return nil
}
