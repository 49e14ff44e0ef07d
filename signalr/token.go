package signalr

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/serverless-signalr/functions-go/internal/textutil"
)

// MaxTokenLength is the longest access token the service accepts, in
// characters. Browsers send the token in the access_token query parameter,
// and the service's front ends limit it to 4 K.
const MaxTokenLength = 4096

// DefaultTokenLifetime is the lifetime of access tokens when
// [TokenOptions.Lifetime] is zero, as in the official SDKs.
const DefaultTokenLifetime = time.Hour

// ClaimUserID is the claim type that carries the user id of a client
// connection; [TokenOptions.UserID] sets it.
const ClaimUserID = "asrs.s.uid"

// systemClaimPrefix starts the claim types reserved for the service's own
// settings; end users must never set them.
const systemClaimPrefix = "asrs.s."

// AccessKey is the key that signs access tokens: the AccessKey of a
// connection string, or a key obtained from the service with Microsoft
// Entra ID. Its String, GoString and LogValue methods redact Value.
type AccessKey struct {
	// ID is the key id, written to the token's "kid" header when not empty.
	// Keys obtained with Microsoft Entra ID must carry the service's KeyId.
	ID string
	// Value is the secret. Its UTF-8 bytes are the HMAC key; it is not
	// base64-decoded.
	Value string
}

// String returns the key id with the value redactedMark.
func (k AccessKey) String() string {
	v := ""
	if k.Value != "" {
		v = redactedMark
	}
	return "AccessKey{ID:" + strconv.Quote(k.ID) + " Value:" + v + "}"
}

// GoString is like String, so that %#v does not print the secret either.
func (k AccessKey) GoString() string { return "signalr." + k.String() }

// LogValue implements [slog.LogValuer] with the value redactedMark.
func (k AccessKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.Bool("set", k.Value != ""))
}

// Claim is one claim of an access token. Claims of the same Type become one
// JSON array.
type Claim struct {
	Type, Value string
}

// TokenOptions tunes [GenerateAccessToken]. A nil *TokenOptions means no
// user id, no claims, [DefaultTokenLifetime] and the current time.
type TokenOptions struct {
	// UserID becomes the "asrs.s.uid" claim, the first of the payload, when
	// not empty. Sending to a user reaches the connections negotiated with it.
	UserID string
	// Claims are custom claims, emitted in order after the user id. A type
	// used more than once becomes a JSON array at its first position. The
	// first "sub" is kept; later "sub" claims and the reserved types aud,
	// exp, iat, nbf, iss, actort, acr, azp, c_hash, jti and nonce are renamed
	// "asrs.u.<type>". Types starting with "asrs.s." are refused.
	Claims []Claim
	// Lifetime is the time from issue to expiry, whole seconds; 0 means
	// [DefaultTokenLifetime].
	Lifetime time.Duration
	// Now is the issue time; the zero value means time.Now().
	Now time.Time
}

// TokenTooLargeError reports a token longer than [MaxTokenLength], naming
// the claims that take the most room.
type TokenTooLargeError struct {
	// Length is the length the token would have had.
	Length int
	// Largest lists up to five claim types of the payload, largest first.
	Largest []ClaimSize
}

// ClaimSize is the share of one claim type in a token: the base64url
// characters its JSON member ("type":value, with all values of the type)
// takes in the payload.
type ClaimSize struct {
	Type string
	Size int
}

// Error names the length, the limit and the largest claims by type and
// size; it never contains claim values.
func (e *TokenTooLargeError) Error() string {
	var b strings.Builder
	b.WriteString("signalr: the access token would be ")
	b.WriteString(strconv.Itoa(e.Length))
	b.WriteString(" characters, more than the ")
	b.WriteString(strconv.Itoa(MaxTokenLength))
	b.WriteString(" the service accepts")
	for i, c := range e.Largest {
		if i == 0 {
			b.WriteString("; largest claims: ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(c.Type))
		b.WriteString(" (")
		b.WriteString(strconv.Itoa(c.Size))
		b.WriteString(" characters)")
	}
	return b.String()
}

// ClaimError reports a claim that cannot be placed in a token.
type ClaimError struct {
	// Type is the claim type as given.
	Type string
	// Reason says why it was refused.
	Reason string
}

// Error names the claim type and the reason; it never contains the value.
func (e *ClaimError) Error() string {
	return "signalr: claim " + strconv.Quote(e.Type) + " refused: " + e.Reason
}

var (
	errEmptyKey      = errors.New("signalr: the access key is empty")
	errEmptyAudience = errors.New("signalr: the token audience is empty")
	errLifetime      = errors.New("signalr: the token lifetime is negative")
)

// headerNoKid is base64url({"alg":"HS256","typ":"JWT"}).
const headerNoKid = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// sigLen is the base64url length of an HS256 signature (32 bytes).
const sigLen = 43

// tokenBuf holds the scratch buffers of one token.
type tokenBuf struct {
	json []byte // the payload JSON
	out  []byte // header.payload[.signature], base64url
	// per-claim scratch, reused for up to smallClaims claims
	types [smallClaims]string
	next  [smallClaims]int32
	later [smallClaims]bool
}

// smallClaims is the number of claims grouped without allocating.
const smallClaims = 32

var tokenPool = sync.Pool{New: func() any {
	return &tokenBuf{json: make([]byte, 0, 1024), out: make([]byte, 0, 2048)}
}}

// Signer signs access tokens with one key. Everything that depends only on
// the key is prepared once: the key bytes, the encoded JWT header with its
// kid, and a pool of keyed HMAC-SHA256 states (crypto/hmac.New allocates
// five objects), so that signing a token allocates only the token. A Signer
// is safe for concurrent use; create one per key and keep it.
type Signer struct {
	id     string
	header string // base64url of {"alg":"HS256","typ":"JWT"[,"kid":…]}
	macs   sync.Pool
}

// NewSigner returns a signer for key. An empty key is an error.
func NewSigner(key AccessKey) (*Signer, error) {
	if key.Value == "" {
		return nil, errEmptyKey
	}
	s := &Signer{id: key.ID, header: headerNoKid}
	if key.ID != "" {
		h := append([]byte(`{"alg":"HS256","typ":"JWT","kid":`), appendJSONString(nil, key.ID)...)
		s.header = base64.RawURLEncoding.EncodeToString(append(h, '}'))
	}
	k := []byte(key.Value)
	s.macs.New = func() any { return hmac.New(sha256.New, k) }
	return s, nil
}

// KeyID returns the kid the signer writes, "" for none.
func (s *Signer) KeyID() string { return s.id }

// GenerateAccessToken returns an HS256 JWT for audience signed with key.
// It uses a [Signer] from a small cache of recently used keys; code that
// signs many tokens with one key should keep its own Signer and call
// [Signer.Sign].
//
// The payload holds, in order, "asrs.s.uid" (when opts.UserID is set), the
// custom claims of opts (see [TokenOptions.Claims]), "aud" as a JSON string,
// and "nbf", "exp" and "iat" as integer seconds (nbf = iat = now). The header
// is {"alg":"HS256","typ":"JWT"}, with "kid" when key.ID is set.
//
// A token longer than [MaxTokenLength] is a *[TokenTooLargeError]; a
// refused claim is a *[ClaimError]. An empty key or audience is an error.
func GenerateAccessToken(key AccessKey, audience string, opts *TokenOptions) (string, error) {
	s, err := signerFor(key)
	if err != nil {
		return "", err
	}
	return s.Sign(audience, opts)
}

// signers caches the Signers of GenerateAccessToken by key; it is emptied
// when it holds maxSigners keys.
var (
	signers  atomic.Pointer[sync.Map]
	nSigners atomic.Int32
)

const maxSigners = 16

func signerFor(key AccessKey) (*Signer, error) {
	m := signers.Load()
	if m != nil {
		if s, ok := m.Load(key); ok {
			return s.(*Signer), nil
		}
	}
	s, err := NewSigner(key)
	if err != nil {
		return nil, err
	}
	if m == nil || nSigners.Load() >= maxSigners {
		m = new(sync.Map)
		signers.Store(m)
		nSigners.Store(0)
	}
	if _, loaded := m.LoadOrStore(key, s); !loaded {
		nSigners.Add(1)
	}
	return s, nil
}

// Sign returns an HS256 JWT for audience, as [GenerateAccessToken]
// describes, signed with the signer's key.
func (s *Signer) Sign(audience string, opts *TokenOptions) (string, error) {
	if audience == "" {
		return "", errEmptyAudience
	}
	var o TokenOptions
	if opts != nil {
		o = *opts
	}
	if o.Lifetime < 0 {
		return "", errLifetime
	}
	if o.Lifetime == 0 {
		o.Lifetime = DefaultTokenLifetime
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}

	tb := tokenPool.Get().(*tokenBuf)
	defer tokenPool.Put(tb)

	g, err := tb.group(o.Claims)
	if err != nil {
		return "", err
	}
	iat := o.Now.Unix()
	exp := iat + int64(o.Lifetime/time.Second)
	tb.json = appendPayload(tb.json[:0], o.UserID, o.Claims, g, audience, iat, exp, nil)

	out := append(tb.out[:0], s.header...)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, tb.json)
	tb.out = out

	if n := len(out) + 1 + sigLen; n > MaxTokenLength {
		return "", &TokenTooLargeError{Length: n, Largest: largestClaims(o.UserID, o.Claims, g, audience)}
	}

	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(out)
	var sigBuf [sha256.Size]byte
	sig := mac.Sum(sigBuf[:0])
	s.macs.Put(mac)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, sig)
	tb.out = out
	return string(out), nil
}

// appendMAC appends HMAC-SHA256(key, msg) to dst with a pooled keyed state
// (crypto/hmac.New allocates five objects): the upstream signature of a
// connection id is this MAC under the same UTF-8 key bytes as a token's.
func (s *Signer) appendMAC(dst []byte, msg string) []byte {
	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(msg))
	dst = mac.Sum(dst)
	s.macs.Put(mac)
	return dst
}

// ClientAccessToken returns a client access token for hub, signed with the
// AccessKey of cs and with audience cs.ClientAudience(hub). It refuses an
// invalid hub name (*[HubNameError]) and connection strings without an
// AccessKey (Microsoft Entra ID mode needs a key fetched from the service;
// call [GenerateAccessToken] with it).
func ClientAccessToken(cs *ConnectionString, hub string, opts *TokenOptions) (string, error) {
	if err := ValidateHubName(hub); err != nil {
		return "", err
	}
	if cs == nil || cs.AccessKey == "" {
		return "", errors.New("signalr: the connection string has no AccessKey; with Microsoft Entra ID, sign with the key obtained from the service")
	}
	return GenerateAccessToken(AccessKey{Value: cs.AccessKey}, cs.ClientAudience(hub), opts)
}

// claimGroups describes how custom claims group by (renamed) type.
type claimGroups struct {
	types []string // renamed type of each claim
	next  []int32  // index of the next claim of the same type, -1 at the end
	later []bool   // true for claims that are not the first of their type
}

// group renames the claim types and links claims of the same type.
func (tb *tokenBuf) group(claims []Claim) (claimGroups, error) {
	n := len(claims)
	var g claimGroups
	if n <= smallClaims {
		g = claimGroups{tb.types[:n], tb.next[:n], tb.later[:n]}
	} else {
		g = claimGroups{make([]string, n), make([]int32, n), make([]bool, n)}
	}
	sub := false
	for i, c := range claims {
		if c.Type == "" {
			return g, &ClaimError{Type: c.Type, Reason: "the claim type is empty"}
		}
		if !utf8.ValidString(c.Type) {
			return g, &ClaimError{Type: strings.ToValidUTF8(c.Type, "\uFFFD"), Reason: "the claim type is not valid UTF-8"}
		}
		if len(c.Type) >= len(systemClaimPrefix) && strings.EqualFold(c.Type[:len(systemClaimPrefix)], systemClaimPrefix) {
			return g, &ClaimError{Type: c.Type, Reason: "types starting with asrs.s. are reserved for the service"}
		}
		t := c.Type
		if t == "sub" {
			if sub {
				t = "asrs.u.sub"
			}
			sub = true
		} else if r := renamedClaim(t); r != "" {
			t = r
		}
		g.types[i] = t
		g.next[i] = -1
		g.later[i] = false
	}
	if n <= smallClaims {
		for i := 0; i < n; i++ {
			if g.later[i] {
				continue
			}
			prev := i
			for j := i + 1; j < n; j++ {
				if !g.later[j] && g.types[j] == g.types[i] {
					g.next[prev] = int32(j)
					g.later[j] = true
					prev = j
				}
			}
		}
		return g, nil
	}
	last := make(map[string]int32, n)
	for i, t := range g.types {
		if p, ok := last[t]; ok {
			g.next[p] = int32(i)
			g.later[i] = true
		}
		last[t] = int32(i)
	}
	return g, nil
}

// renamedClaim returns "asrs.u."+t for the claim types the service keeps
// for itself, "" for others.
func renamedClaim(t string) string {
	switch t {
	case "aud":
		return "asrs.u.aud"
	case "exp":
		return "asrs.u.exp"
	case "iat":
		return "asrs.u.iat"
	case "nbf":
		return "asrs.u.nbf"
	case "iss":
		return "asrs.u.iss"
	case "actort":
		return "asrs.u.actort"
	case "acr":
		return "asrs.u.acr"
	case "azp":
		return "asrs.u.azp"
	case "c_hash":
		return "asrs.u.c_hash"
	case "jti":
		return "asrs.u.jti"
	case "nonce":
		return "asrs.u.nonce"
	}
	return ""
}

// appendPayload appends the payload JSON. When sizes is not nil it also
// records the JSON length of every member except nbf, exp and iat.
func appendPayload(b []byte, uid string, claims []Claim, g claimGroups, aud string, iat, exp int64, sizes *[]ClaimSize) []byte {
	b = append(b, '{')
	mark := func(t string, start int) {
		if sizes != nil {
			*sizes = append(*sizes, ClaimSize{Type: t, Size: len(b) - start})
		}
	}
	if uid != "" {
		start := len(b)
		b = append(b, `"asrs.s.uid":`...)
		b = appendJSONString(b, uid)
		b = append(b, ',')
		mark(ClaimUserID, start)
	}
	for i := range claims {
		if g.later[i] {
			continue
		}
		start := len(b)
		b = appendJSONString(b, g.types[i])
		b = append(b, ':')
		if g.next[i] < 0 {
			b = appendJSONString(b, claims[i].Value)
		} else {
			b = append(b, '[')
			for j := int32(i); j >= 0; j = g.next[j] {
				if j != int32(i) {
					b = append(b, ',')
				}
				b = appendJSONString(b, claims[j].Value)
			}
			b = append(b, ']')
		}
		b = append(b, ',')
		mark(g.types[i], start)
	}
	start := len(b)
	b = append(b, `"aud":`...)
	b = appendJSONString(b, aud)
	b = append(b, ',')
	mark("aud", start)
	b = append(b, `"nbf":`...)
	b = strconv.AppendInt(b, iat, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat, 10)
	return append(b, '}')
}

// largestClaims measures the payload's members and returns the five
// largest, by base64url characters.
func largestClaims(uid string, claims []Claim, g claimGroups, aud string) []ClaimSize {
	sizes := make([]ClaimSize, 0, len(claims)+2)
	appendPayload(nil, uid, claims, g, aud, 0, 0, &sizes)
	for i := range sizes {
		sizes[i].Size = (sizes[i].Size*4 + 2) / 3
	}
	slices.SortStableFunc(sizes, func(a, b ClaimSize) int { return cmp.Compare(b.Size, a.Size) })
	return sizes[:min(5, len(sizes))]
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does with HTML escaping off (see textutil.AppendJSONString).
func appendJSONString(b []byte, s string) []byte { return textutil.AppendJSONString(b, s, false) }
