package doctor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/identity"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// Sample identity of the token-size check when --user and --claims are not
// given: an Entra object id and a 40-character value per configured claim
// type.
const (
	typicalUser       = "8d5f3f0e-6c1a-4b7e-9a4e-2f1c3b5d7e90"
	typicalClaimValue = "a-typical-claim-value-of-forty-chars-xyz"
)

// checkTokenSize mints a client token for the sample identity exactly as
// negotiate does (the claims of SIGNALR_CLAIM_TYPES, the real generator)
// and compares its length with the service's limit.
func (r *runner) checkTokenSize() {
	const check = "token size"
	user := r.opts.User
	if user == "" {
		user = typicalUser
	}
	sample := make([]identity.Claim, 0, len(r.opts.Claims))
	sample = append(sample, r.opts.Claims...)
	if len(r.opts.Claims) == 0 {
		for _, t := range r.cfg.ClaimTypes {
			sample = append(sample, identity.Claim{Type: t, Value: typicalClaimValue})
		}
	}
	claims := identity.Principal{Claims: sample}.ClaimsOfTypes(r.cfg.ClaimTypes)
	var dropped []string
	for _, c := range r.opts.Claims {
		one := identity.Principal{Claims: []identity.Claim{{Type: c.Type, Value: c.Value}}}
		if len(one.ClaimsOfTypes(r.cfg.ClaimTypes)) == 0 {
			dropped = append(dropped, c.Type)
		}
	}
	hub := strings.ToLower(r.cfg.HubName)
	audience := "https://name.service.signalr.net/client/?hub=" + hub
	key := signalr.AccessKey{Value: "doctor-sample-key"}
	if len(r.endpoints) > 0 {
		audience = r.endpoints[0].cs.ClientAudience(hub)
		if k := r.endpoints[0].cs.AccessKey; k != "" {
			key.Value = k
		}
	}
	d := map[string]string{
		"user":       user,
		"claims":     fmt.Sprint(len(claims)),
		"claimTypes": strings.Join(r.cfg.ClaimTypes, ","),
		"limit":      fmt.Sprint(signalr.MaxTokenLength),
	}
	if len(dropped) > 0 {
		d["notCopied"] = strings.Join(dropped, ",")
	}
	tok, err := signalr.GenerateAccessToken(key, audience, &signalr.TokenOptions{UserID: user, Claims: claims, Lifetime: r.cfg.TokenLifetime})
	var tl *signalr.TokenTooLargeError
	var ce *signalr.ClaimError
	switch {
	case errors.As(err, &tl):
		d["length"] = fmt.Sprint(tl.Length)
		var parts []string
		for _, c := range tl.Largest {
			parts = append(parts, fmt.Sprintf("%s (%d characters)", c.Type, c.Size))
		}
		d["largest"] = strings.Join(parts, ", ")
		r.add(finding(check, Fail, apperr.CodeNegotiateTokenTooLarge, fmt.Sprintf("the client token would be %d characters, more than the service's %d; largest claims: %s", tl.Length, signalr.MaxTokenLength, strings.Join(parts, ", ")), "", d))
	case errors.As(err, &ce):
		r.add(finding(check, Fail, apperr.CodeNegotiateInvalidClaim, ce.Error(), "", d))
	case err != nil:
		r.add(finding(check, Fail, apperr.CodeInternal, "the token could not be generated: "+err.Error(), "", d))
	default:
		d["length"] = fmt.Sprint(len(tok))
		msg := fmt.Sprintf("a token for user %q with %d claims is %d of %d characters", textutil.Truncate(user, 40), len(claims), len(tok), signalr.MaxTokenLength)
		if len(dropped) > 0 {
			msg += "; not copied (not in SIGNALR_CLAIM_TYPES): " + strings.Join(dropped, ", ")
		}
		r.add(finding(check, Pass, "", msg, "", d))
	}
}
