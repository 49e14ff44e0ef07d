package signalr

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Upstream is how Azure SignalR Service in serverless mode tells a backend
// what clients do: it POSTs every connection event and every hub invocation
// of a client to the first matching upstream URL (MicrosoftDocs/azure-docs
// articles/azure-signalr/concept-upstream.md). The request carries the
// connection in X-ASRS-* headers and the event in its body; the answer to an
// invocation with an invocation id is the framed Completion the service
// relays to the client byte for byte.

// Upstream header names, as the service sends them (concept-upstream.md,
// "Request headers").
const (
	HeaderUpstreamConnectionID = "X-ASRS-Connection-Id"
	HeaderUpstreamHub          = "X-ASRS-Hub"
	HeaderUpstreamCategory     = "X-ASRS-Category"
	HeaderUpstreamEvent        = "X-ASRS-Event"
	HeaderUpstreamUserID       = "X-ASRS-User-Id"
	HeaderUpstreamUserClaims   = "X-ASRS-User-Claims"
	HeaderUpstreamClientQuery  = "X-ASRS-Client-Query"
	HeaderUpstreamSignature    = "X-ASRS-Signature"
)

// Upstream categories and connection events (the X-ASRS-Category and
// X-ASRS-Event values). For the messages category the event is the target
// of the client's invocation.
const (
	UpstreamConnections  = "connections"
	UpstreamMessages     = "messages"
	UpstreamConnected    = "connected"
	UpstreamDisconnected = "disconnected"
)

// Hub protocols of upstream bodies, named as in the client's handshake.
const (
	ProtocolJSON        = "json"
	ProtocolMessagePack = "messagepack"
)

// Content types of upstream bodies: the service POSTs a client's invocation
// in the client's protocol, without the protocol's framing.
const (
	ContentTypeJSON        = "application/json"
	ContentTypeMessagePack = "application/x-msgpack"
)

// DefaultUpstreamMaxBody bounds an upstream body when
// [UpstreamOptions.MaxBodyBytes] is zero. The service recommends client
// messages below 1 MB; Microsoft's emulator accepts up to 16 MB answers.
const DefaultUpstreamMaxBody = 1 << 20

// UpstreamRequest is one validated upstream call: who (the connection, its
// user, claims and query), where (hub, category, event) and, for the
// messages category, the client's invocation.
type UpstreamRequest struct {
	ConnectionID string
	Hub          string
	// Category is [UpstreamConnections] or [UpstreamMessages].
	Category string
	// Event is [UpstreamConnected], [UpstreamDisconnected] or the
	// invocation's target.
	Event string
	// UserID is empty for anonymous connections.
	UserID string
	// Claims are the connection's claims from X-ASRS-User-Claims, in order.
	Claims []Claim
	// Query is the client's connect query from X-ASRS-Client-Query, with
	// access_token removed: hub code never sees the client's token.
	Query url.Values
	// Protocol is the client's hub protocol, [ProtocolJSON] or
	// [ProtocolMessagePack]: the arguments are in it and the completion
	// must be written in it.
	Protocol string
	// Endpoint is the index in [UpstreamOptions.Endpoints] (then
	// [UpstreamOptions.AccessKeys]) of the key whose signature matched;
	// -1 when the call was authenticated otherwise.
	Endpoint int

	// InvocationID is the client's invocation id: empty for a
	// fire-and-forget send, which gets no completion.
	InvocationID string
	// Target is the invoked hub method (the messages category).
	Target string
	// Headers are the invocation's protocol headers, if any.
	Headers map[string]string
	// RawArguments are the invocation's arguments, each in Protocol's
	// encoding (JSON text or one MessagePack value). Decode them with
	// [UpstreamRequest.DecodeArgument].
	RawArguments [][]byte
	// Error is the reason of a disconnected event ("" for a clean close).
	Error string
}

// UpstreamOptions configures [NewUpstreamValidator].
type UpstreamOptions struct {
	// Endpoints are the service endpoints whose calls are accepted. Every
	// AccessKey among them is tried against X-ASRS-Signature (key rotation
	// and multiple endpoints); endpoints without one (Microsoft Entra ID)
	// are authenticated with VerifyToken.
	Endpoints []*ConnectionString
	// AccessKeys are further keys accepted (for example the secondary key
	// during a rotation).
	AccessKeys []string
	// VerifyToken checks the managed-identity bearer token the service
	// sends when the upstream setting's auth is ManagedIdentity (the
	// Authorization header of r). It returns nil to accept the call.
	VerifyToken func(r *http.Request) error
	// AllowUnsigned accepts calls that carry neither a signature nor a
	// bearer token. Development only (a local service without keys); a
	// signature that is present but wrong is still refused.
	AllowUnsigned bool
	// MaxBodyBytes bounds the body; default [DefaultUpstreamMaxBody].
	MaxBodyBytes int64
}

// UpstreamValidator parses and authenticates upstream calls. It is safe for
// concurrent use.
type UpstreamValidator struct {
	keys          []upstreamKey
	verifyToken   func(*http.Request) error
	allowUnsigned bool
	maxBody       int64
}

type upstreamKey struct {
	signer   *Signer // the key's HMAC state, prepared once
	endpoint int
}

// newUpstreamKey prepares a non-empty AccessKey for signature checks.
func newUpstreamKey(key string, endpoint int) upstreamKey {
	s, _ := NewSigner(AccessKey{Value: key}) // not empty: no error
	return upstreamKey{signer: s, endpoint: endpoint}
}

// NewUpstreamValidator returns a validator for opts. It refuses a
// configuration that could never accept a call.
func NewUpstreamValidator(opts UpstreamOptions) (*UpstreamValidator, error) {
	v := &UpstreamValidator{verifyToken: opts.VerifyToken, allowUnsigned: opts.AllowUnsigned, maxBody: opts.MaxBodyBytes}
	if v.maxBody <= 0 {
		v.maxBody = DefaultUpstreamMaxBody
	}
	for i, cs := range opts.Endpoints {
		if cs != nil && cs.AccessKey != "" {
			v.keys = append(v.keys, newUpstreamKey(cs.AccessKey, i))
		}
	}
	for i, k := range opts.AccessKeys {
		if k != "" {
			v.keys = append(v.keys, newUpstreamKey(k, len(opts.Endpoints)+i))
		}
	}
	if len(v.keys) == 0 && v.verifyToken == nil && !v.allowUnsigned {
		return nil, errors.New("signalr: upstream: no AccessKey to check signatures with, no token verifier and unsigned calls not allowed: no call could be accepted")
	}
	return v, nil
}

// Parse reads, authenticates and decodes the upstream call r. A refusal is
// an *[UpstreamError]; its Kind's [UpstreamErrorKind.HTTPStatus] is the
// status to answer.
func (v *UpstreamValidator) Parse(r *http.Request) (*UpstreamRequest, error) {
	u, err := parseUpstreamHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	if u.Endpoint, err = v.authenticate(r, u.ConnectionID); err != nil {
		return nil, err
	}
	body, err := readBounded(r.Body, r.ContentLength, v.maxBody)
	if err != nil {
		return nil, err
	}
	if err := u.decodeBody(r.Header.Get("Content-Type"), body); err != nil {
		return nil, err
	}
	return u, nil
}

// readBounded reads at most max bytes of body; with a known length n it
// reads into one buffer of that size.
func readBounded(body io.Reader, n, max int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	if n >= 0 && n <= max {
		b := make([]byte, n)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, upstreamErr(UpstreamInvalidBody, "the body is shorter than its Content-Length: "+err.Error())
		}
		return b, nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(body, max+1))
	if err != nil {
		return nil, upstreamErr(UpstreamInvalidBody, "the body could not be read: "+err.Error())
	}
	if n > max {
		return nil, upstreamErr(UpstreamBodyTooLarge, "the body is larger than "+strconv.FormatInt(max, 10)+" bytes")
	}
	return buf.Bytes(), nil
}

// parseUpstreamHeaders reads the X-ASRS-* headers.
func parseUpstreamHeaders(h http.Header) (*UpstreamRequest, error) {
	u := &UpstreamRequest{
		ConnectionID: header(h, canonConnectionID),
		Hub:          header(h, canonHub),
		Category:     header(h, canonCategory),
		Event:        header(h, canonEvent),
		UserID:       header(h, canonUserID),
		Endpoint:     -1,
	}
	for _, m := range [...]struct{ name, val string }{
		{HeaderUpstreamConnectionID, u.ConnectionID},
		{HeaderUpstreamHub, u.Hub},
		{HeaderUpstreamCategory, u.Category},
		{HeaderUpstreamEvent, u.Event},
	} {
		if m.val == "" {
			return nil, upstreamErr(UpstreamMissingHeader, "the "+m.name+" header is missing: this is not a call from Azure SignalR Service's upstream")
		}
	}
	switch u.Category {
	case UpstreamConnections:
		if u.Event != UpstreamConnected && u.Event != UpstreamDisconnected {
			return nil, upstreamErr(UpstreamMissingHeader, "X-ASRS-Event of the connections category must be connected or disconnected, not "+strconv.Quote(clip(u.Event, 64)))
		}
	case UpstreamMessages:
	default:
		return nil, upstreamErr(UpstreamMissingHeader, "X-ASRS-Category must be connections or messages, not "+strconv.Quote(clip(u.Category, 64)))
	}
	u.Claims = ParseUpstreamClaims(header(h, canonUserClaims))
	u.Query = parseClientQuery(header(h, canonClientQuery))
	return u, nil
}

// The header names in net/http's canonical form, computed once: h.Get
// would canonicalize the service's spelling (X-ASRS-…) on every call.
var (
	canonConnectionID = http.CanonicalHeaderKey(HeaderUpstreamConnectionID)
	canonHub          = http.CanonicalHeaderKey(HeaderUpstreamHub)
	canonCategory     = http.CanonicalHeaderKey(HeaderUpstreamCategory)
	canonEvent        = http.CanonicalHeaderKey(HeaderUpstreamEvent)
	canonUserID       = http.CanonicalHeaderKey(HeaderUpstreamUserID)
	canonUserClaims   = http.CanonicalHeaderKey(HeaderUpstreamUserClaims)
	canonClientQuery  = http.CanonicalHeaderKey(HeaderUpstreamClientQuery)
	canonSignature    = http.CanonicalHeaderKey(HeaderUpstreamSignature)
)

// header is h.Get for a key already in canonical form.
func header(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ParseUpstreamClaims parses the X-ASRS-User-Claims value "type: value,
// type: value" as the Functions extension does (SignalRTriggerUtils.cs:
// split on ",", then on the first ": "). Entries without ": " are skipped.
func ParseUpstreamClaims(s string) []Claim {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []Claim
	for part := range strings.SplitSeq(s, ",") {
		t, val, ok := strings.Cut(strings.TrimSpace(part), ": ")
		if !ok || t == "" {
			continue
		}
		out = append(out, Claim{Type: strings.TrimSpace(t), Value: strings.TrimSpace(val)})
	}
	return out
}

// parseClientQuery parses X-ASRS-Client-Query ("?a=b&…", leading "?"
// optional) and drops access_token, which Microsoft's emulator passes on.
func parseClientQuery(s string) url.Values {
	s = strings.TrimPrefix(s, "?")
	if s == "" {
		return nil
	}
	q, _ := url.ParseQuery(s) // keeps what parses; the rest is the client's problem
	q.Del("access_token")
	if len(q) == 0 {
		return nil
	}
	return q
}

func clip(s string, n int) string {
	if len(s) > n {
		return truncateName(s, n) + "…"
	}
	return s
}
