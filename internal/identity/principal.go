package identity

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
// several Claims of the same Type.
type Claim struct {
	Type  string
	Value string
}

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
	// become repeated claims), in a stable order.
	Claims []Claim
}

// ClaimsOfTypes returns the claims whose type is listed in types, for the
// extension's ClaimTypeList. Matching is case-sensitive, and the short and
// long .NET names of nameid, role, name/unique_name and email match each
// other. A matched claim is emitted under a short name: its own type when
// that is already short; for a long type, the first short name of its group
// listed in types, else the group's canonical short name (nameid, role,
// unique_name, email). Identical (type, value) pairs are emitted once.
// Claims keep the Principal's order.
func (p Principal) ClaimsOfTypes(types []string) []Claim {
	if len(types) == 0 || len(p.Claims) == 0 {
		return nil
	}
	exact := make(map[string]bool, len(types))
	// wanted maps an alias group to the short name its long claims are
	// emitted under.
	wanted := make(map[string]string)
	for _, t := range types {
		exact[t] = true
		g, ok := aliasGroup[t]
		if !ok {
			continue
		}
		cur, seen := wanted[g]
		switch {
		case !seen:
			if isLong(t) {
				wanted[g] = g
			} else {
				wanted[g] = t
			}
		case !isLong(t) && cur == g && !exact[g]:
			// Only long names (mapped to the canonical short) so far.
			wanted[g] = t
		}
	}
	var out []Claim
	seen := make(map[Claim]bool)
	for _, c := range p.Claims {
		outType := ""
		if g, ok := aliasGroup[c.Type]; ok {
			if short, want := wanted[g]; want {
				outType = c.Type
				if isLong(c.Type) {
					outType = short
				}
			}
		} else if exact[c.Type] {
			outType = c.Type
		}
		if outType == "" {
			continue
		}
		oc := Claim{Type: outType, Value: c.Value}
		if seen[oc] {
			continue
		}
		seen[oc] = true
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
