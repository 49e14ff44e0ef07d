package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// Headers set by App Service Authentication.
const (
	HeaderClientPrincipal     = "X-MS-CLIENT-PRINCIPAL"
	HeaderClientPrincipalID   = "X-MS-CLIENT-PRINCIPAL-ID"
	HeaderClientPrincipalName = "X-MS-CLIENT-PRINCIPAL-NAME"
	HeaderClientPrincipalIDP  = "X-MS-CLIENT-PRINCIPAL-IDP"
)

// MaxClientPrincipalLen is the longest X-MS-CLIENT-PRINCIPAL header value
// accepted, in bytes.
const MaxClientPrincipalLen = 64 << 10

var easyAuthHeaders = [...]string{HeaderClientPrincipal, HeaderClientPrincipalID, HeaderClientPrincipalName, HeaderClientPrincipalIDP}

// ClientPrincipal is the decoded X-MS-CLIENT-PRINCIPAL header.
type ClientPrincipal struct {
	AuthType string                 `json:"auth_typ"`
	Claims   []ClientPrincipalClaim `json:"claims"`
	NameType string                 `json:"name_typ"`
	RoleType string                 `json:"role_typ"`
}

// ClientPrincipalClaim is one claim of a [ClientPrincipal]. Val is decoded
// from a JSON string; numbers and booleans are kept as their JSON text.
type ClientPrincipalClaim struct {
	Typ string    `json:"typ"`
	Val claimText `json:"val"`
}

type claimText string

func (c *claimText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return errors.New("empty claim value")
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = claimText(s)
	case 'n':
		*c = ""
	case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		*c = claimText(b)
	default:
		return errors.New("claim value is neither a string, a number nor a boolean")
	}
	return nil
}

// DecodeClientPrincipal decodes an X-MS-CLIENT-PRINCIPAL header value:
// base64 (standard or URL alphabet, padded or not) of a JSON object
// {"auth_typ","claims":[{"typ","val"}],"name_typ","role_typ"}. The error
// says what is wrong without quoting the value.
func DecodeClientPrincipal(header string) (*ClientPrincipal, error) {
	s := strings.TrimSpace(header)
	if s == "" {
		return nil, errors.New("the header is empty")
	}
	if len(s) > MaxClientPrincipalLen {
		return nil, fmt.Errorf("the header is %d bytes long; at most %d are accepted", len(s), MaxClientPrincipalLen)
	}
	s = strings.TrimRight(s, "=")
	s = strings.Map(func(r rune) rune {
		switch r {
		case '-':
			return '+'
		case '_':
			return '/'
		}
		return r
	}, s)
	raw, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("the header is not valid base64: %w", err)
	}
	if !utf8.Valid(raw) {
		return nil, errors.New("the decoded header is not UTF-8 text")
	}
	var p ClientPrincipal
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("the decoded header is not the expected JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the decoded header has data after the JSON object")
	}
	return &p, nil
}

// presentEasyAuthHeaders returns the names of the EasyAuth headers present
// in h (canonical names, no values).
func presentEasyAuthHeaders(h http.Header) []string {
	var names []string
	for _, n := range easyAuthHeaders {
		if len(h.Values(n)) > 0 {
			names = append(names, http.CanonicalHeaderKey(n))
		}
	}
	return names
}

// easyAuthPrincipal builds the principal of a trusted EasyAuth request. ok
// is false when the request carries no EasyAuth identity.
func easyAuthPrincipal(h http.Header) (p Principal, ok bool, err error) {
	enc := h.Get(HeaderClientPrincipal)
	id := strings.TrimSpace(h.Get(HeaderClientPrincipalID))
	if enc == "" && id == "" {
		return Principal{}, false, nil
	}
	p.Source = SourceEasyAuth
	if enc == "" {
		p.UserID = id
		p.Claims = []Claim{{Type: "nameid", Value: id}}
		if name := strings.TrimSpace(h.Get(HeaderClientPrincipalName)); name != "" {
			p.Claims = append(p.Claims, Claim{Type: "name", Value: name})
		}
		if err := checkUserID(id, "The "+HeaderClientPrincipalID+" header"); err != nil {
			return Principal{}, true, err
		}
		return p, true, nil
	}
	cp, derr := DecodeClientPrincipal(enc)
	if derr != nil {
		return Principal{}, true, &apperr.Error{
			Code:    apperr.CodeAuthInvalidEasyAuth,
			Message: "The X-MS-CLIENT-PRINCIPAL header could not be decoded: " + derr.Error() + ".",
			Err:     derr,
		}
	}
	p.Claims = make([]Claim, 0, len(cp.Claims)+2)
	nameID := ""
	for _, c := range cp.Claims {
		if c.Typ == "" {
			continue
		}
		v := string(c.Val)
		p.Claims = append(p.Claims, Claim{Type: c.Typ, Value: v})
		if nameID == "" && strings.TrimSpace(v) != "" && (c.Typ == ClaimTypeNameIdentifier || c.Typ == "nameid") {
			nameID = v
		}
		if cp.RoleType != "" && c.Typ == cp.RoleType && c.Typ != "role" {
			p.Claims = append(p.Claims, Claim{Type: "role", Value: v})
		}
		if cp.NameType != "" && c.Typ == cp.NameType && c.Typ != "name" {
			p.Claims = append(p.Claims, Claim{Type: "name", Value: v})
		}
	}
	p.UserID = id
	if p.UserID == "" {
		p.UserID = nameID
	}
	if p.UserID == "" {
		return Principal{}, true, apperr.New(apperr.CodeAuthInvalidEasyAuth,
			"The App Service Authentication principal has no user id: there is no X-MS-CLIENT-PRINCIPAL-ID header and no nameidentifier claim.",
			"Check the identity provider configured in App Service Authentication; it must issue a nameidentifier claim.")
	}
	if err := checkUserID(p.UserID, "The App Service Authentication principal's user id"); err != nil {
		return Principal{}, true, err
	}
	return p, true, nil
}
