package identity

import "github.com/serverless-signalr/functions-go/signalr"

// Source says where a [Principal] came from.
type Source string

// Sources of a [Principal].
const (
	// SourceAnonymous is a caller without credentials.
	SourceAnonymous Source = "anonymous"
	// SourceEasyAuth is a caller authenticated by App Service Authentication.
	SourceEasyAuth Source = "easyauth"
	// SourceBearer is a caller with a verified bearer JWT.
	SourceBearer Source = "bearer"
	// SourceDev is a caller that chose its user id with the dev-only header.
	SourceDev Source = "dev"
)

// Claim is one claim of a caller's identity. Multi-valued claims appear as
// several Claims of the same Type. It is the SDK's claim type, so that the
// claims negotiate copies go into the client token without conversion.
type Claim = signalr.Claim

// Long .NET claim type URIs and their short JWT names.
const (
	ClaimTypeNameIdentifier = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
	ClaimTypeName           = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	ClaimTypeEmail          = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	ClaimTypeRole           = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
)

// aliasGroup maps every name of an aliased claim type to its group: the
// canonical short name used when a long name has to be emitted short.
var aliasGroup = map[string]string{
	"nameid":                "nameid",
	ClaimTypeNameIdentifier: "nameid",
	"role":                  "role",
	ClaimTypeRole:           "role",
	"name":                  "unique_name",
	"unique_name":           "unique_name",
	ClaimTypeName:           "unique_name",
	"email":                 "email",
	ClaimTypeEmail:          "email",
}

// isLong reports whether t is one of the long .NET claim type URIs.
func isLong(t string) bool {
	switch t {
	case ClaimTypeNameIdentifier, ClaimTypeName, ClaimTypeEmail, ClaimTypeRole:
		return true
	}
	return false
}

// Principal is the caller of a request as decided by a [Resolver].
type Principal struct {
	// UserID is the user id to put in the SignalR token; "" for anonymous.
	UserID string
	// Source says which credential established the identity.
	Source Source
	// Claims holds every claim of the validated identity, flattened (arrays
	// become repeated claims), in a stable order. It must not be modified:
	// principals of the same cached bearer token share it.
	Claims []Claim
	// Copied are the claims of Config.ClaimTypes, as
	// NewClaimFilter(ClaimTypes).Select(Claims) returns them: what negotiate
	// copies into the client token. Shared like Claims; must not be
	// modified.
	Copied []Claim
}

// ClaimsOfTypes returns the claims of p whose type is listed in types, as
// NewClaimFilter(types).Select(p.Claims) does. Hot paths build the
// [ClaimFilter] once instead.
func (p Principal) ClaimsOfTypes(types []string) []Claim {
	return NewClaimFilter(types).Select(p.Claims)
}

// ClaimFilter selects the claims of a list of claim types: the extension's
// ClaimTypeList (SIGNALR_CLAIM_TYPES). Build it once with [NewClaimFilter];
// it is immutable and safe for concurrent use.
type ClaimFilter struct {
	// exact holds the listed types that are not aliased.
	exact map[string]bool
	// wanted maps an alias group to the short name its long claims are
	// emitted under.
	wanted map[string]string
}

// NewClaimFilter returns the filter of types. Matching is case-sensitive,
// and the short and long .NET names of nameid, role, name/unique_name and
// email match each other. A matched claim is emitted under a short name:
// its own type when that is already short; for a long type, the first short
// name of its group listed in types, else the group's canonical short name
// (nameid, role, unique_name, email).
func NewClaimFilter(types []string) *ClaimFilter {
	f := &ClaimFilter{exact: make(map[string]bool, len(types)), wanted: map[string]string{}}
	for _, t := range types {
		f.exact[t] = true
		g, ok := aliasGroup[t]
		if !ok {
			continue
		}
		cur, seen := f.wanted[g]
		switch {
		case !seen:
			if isLong(t) {
				f.wanted[g] = g
			} else {
				f.wanted[g] = t
			}
		case !isLong(t) && cur == g && !f.exact[g]:
			// Only long names (mapped to the canonical short) so far.
			f.wanted[g] = t
		}
	}
	return f
}

// Empty reports whether f selects nothing (no types were listed).
func (f *ClaimFilter) Empty() bool { return f == nil || len(f.exact) == 0 }

// Select returns the claims of in that f selects, in in's order, each
// identical (type, value) pair once; nil when none is selected. It
// allocates only the result.
func (f *ClaimFilter) Select(in []Claim) []Claim {
	if f.Empty() || len(in) == 0 {
		return nil
	}
	var out []Claim
next:
	for _, c := range in {
		outType := ""
		if g, ok := aliasGroup[c.Type]; ok {
			if short, want := f.wanted[g]; want {
				outType = c.Type
				if isLong(c.Type) {
					outType = short
				}
			}
		} else if f.exact[c.Type] {
			outType = c.Type
		}
		if outType == "" {
			continue
		}
		oc := Claim{Type: outType, Value: c.Value}
		for _, o := range out { // a principal has few claims: a scan beats a map
			if o == oc {
				continue next
			}
		}
		if out == nil {
			out = make([]Claim, 0, 4)
		}
		out = append(out, oc)
	}
	return out
}

// HasRole reports whether p has role (case-sensitive) in a role, roles or
// long .NET role claim.
func (p Principal) HasRole(role string) bool {
	for _, c := range p.Claims {
		switch c.Type {
		case "role", "roles", ClaimTypeRole:
			if c.Value == role {
				return true
			}
		}
	}
	return false
}
