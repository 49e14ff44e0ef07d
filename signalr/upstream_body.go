package signalr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/msgpackscan"
	"github.com/vmihailenco/msgpack/v5"
)

// Hub-protocol message types an upstream body may hold
// (dotnet/aspnetcore src/SignalR/docs/specs/HubProtocol.md).
const (
	msgTypeInvocation   = 1
	msgTypeCompletion   = 3
	msgTypeConnected    = 10 // the service's own connection-event types
	msgTypeDisconnected = 11
)

// upstreamJSON is a JSON upstream body: an Invocation, or the service's
// connected {"type":10} / disconnected {"type":11,"error":…} (Microsoft's
// emulator writes Type/Error: encoding/json matches keys case-insensitively).
type upstreamJSON struct {
	Type         int               `json:"type"`
	InvocationID *string           `json:"invocationId"`
	Target       string            `json:"target"`
	Arguments    []json.RawMessage `json:"arguments"`
	Headers      map[string]string `json:"headers"`
	Error        string            `json:"error"`
}

// mediaType returns the lower-cased media type of a Content-Type value
// without its parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	if ct == ContentTypeJSON || ct == ContentTypeMessagePack {
		return ct
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return strings.ToLower(ct)
}

// decodeBody decodes body according to the content type and the category.
func (u *UpstreamRequest) decodeBody(contentType string, body []byte) error {
	switch mt := mediaType(contentType); mt {
	case ContentTypeJSON, "text/json":
		u.Protocol = ProtocolJSON
		if u.Category == UpstreamConnections {
			return u.decodeConnectionEvent(body)
		}
		return u.decodeJSONInvocation(body)
	case ContentTypeMessagePack, "application/msgpack":
		u.Protocol = ProtocolMessagePack
		if u.Category == UpstreamConnections {
			return nil // the service sends connection events as JSON; nothing in them is needed
		}
		return u.decodeMessagePackInvocation(body)
	case "":
		if u.Category == UpstreamConnections && len(bytes.TrimSpace(body)) == 0 {
			u.Protocol = ProtocolJSON
			return nil
		}
		return upstreamErr(UpstreamUnsupportedMediaType, "the body has no Content-Type: upstream bodies are application/json or application/x-msgpack")
	default:
		return upstreamErr(UpstreamUnsupportedMediaType, "Content-Type "+strconv.Quote(clip(mt, 64))+" is not an upstream body: use application/json or application/x-msgpack")
	}
}

func invalidBody(format string, args ...any) *UpstreamError {
	return upstreamErr(UpstreamInvalidBody, fmt.Sprintf(format, args...))
}

func (u *UpstreamRequest) decodeConnectionEvent(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var m upstreamJSON
	if err := json.Unmarshal(body, &m); err != nil {
		return invalidBody("the connection event body is not a JSON object: %v", jsonErrText(err))
	}
	want := msgTypeConnected
	if u.Event == UpstreamDisconnected {
		want = msgTypeDisconnected
	}
	if m.Type != 0 && m.Type != want {
		return invalidBody("a %s event has type %d, not %d", u.Event, m.Type, want)
	}
	u.Error = m.Error
	return nil
}

func (u *UpstreamRequest) decodeJSONInvocation(body []byte) error {
	var m upstreamJSON
	if err := json.Unmarshal(body, &m); err != nil {
		return invalidBody("the invocation is not a JSON hub-protocol message: %v", jsonErrText(err))
	}
	if m.Type != msgTypeInvocation {
		return invalidBody("the message has type %d; only invocations (type 1) are forwarded upstream", m.Type)
	}
	if m.InvocationID != nil {
		u.InvocationID = *m.InvocationID
	}
	u.Headers = m.Headers
	u.RawArguments = make([][]byte, len(m.Arguments))
	for i, a := range m.Arguments {
		u.RawArguments[i] = a
	}
	return u.setTarget(m.Target)
}

// jsonErrText keeps encoding/json's description of the problem, which
// names offsets and types but not values.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " is a JSON " + te.Value + ", not " + te.Type.String()
	}
	return "malformed JSON"
}

func (u *UpstreamRequest) setTarget(target string) error {
	if target == "" {
		return invalidBody("the invocation has no target")
	}
	if target != u.Event {
		return invalidBody("X-ASRS-Event is %q but the invocation targets %q", clip(u.Event, 64), clip(target, 64))
	}
	u.Target = target
	return nil
}

// decodeMessagePackInvocation decodes [1, headers, invocationId|nil,
// target, [args…], streamIds?] (HubProtocol.md, MessagePack encoding),
// unframed as the service posts it.
func (u *UpstreamRequest) decodeMessagePackInvocation(body []byte) error {
	if n, err := msgpackscan.Len(body); err != nil {
		return invalidBody("the invocation is not well-formed MessagePack: %v", err)
	} else if n != len(body) {
		return invalidBody("%d bytes follow the invocation", len(body)-n)
	}
	d := msgpack.GetDecoder()
	defer msgpack.PutDecoder(d)
	r := bytes.NewReader(body)
	d.Reset(r)
	n, err := d.DecodeArrayLen()
	if err != nil || n < 5 {
		return invalidBody("the invocation is not a MessagePack array of at least 5 elements")
	}
	typ, err := d.DecodeInt()
	if err != nil || typ != msgTypeInvocation {
		return invalidBody("the MessagePack message is not an invocation (type 1)")
	}
	headers, err := decodeHeaders(d)
	if err != nil {
		return invalidBody("the invocation's headers are not a map of strings")
	}
	u.Headers = headers
	var id *string
	if err := d.Decode(&id); err != nil {
		return invalidBody("the invocation id is neither nil nor a string")
	}
	if id != nil {
		u.InvocationID = *id
	}
	target, err := d.DecodeString()
	if err != nil {
		return invalidBody("the invocation's target is not a string")
	}
	na, err := d.DecodeArrayLen()
	if err != nil {
		return invalidBody("the invocation's arguments are not an array")
	}
	na = max(na, 0) // nil: no arguments; msgpackscan.Len checked the count
	u.RawArguments = make([][]byte, na)
	for i := range na {
		raw, err := d.DecodeRaw()
		if err != nil {
			return invalidBody("argument %d is not a MessagePack value", i)
		}
		u.RawArguments[i] = raw
	}
	for i := 5; i < n; i++ { // streamIds and anything a newer protocol adds
		if err := d.Skip(); err != nil {
			return invalidBody("the invocation is truncated")
		}
	}
	return u.setTarget(target)
}

// DecodeArgument decodes argument i into v (a pointer), from JSON or from
// MessagePack into the same Go types: MessagePack maps fill struct fields
// by their json tags, as encoding/json would.
func (u *UpstreamRequest) DecodeArgument(i int, v any) error {
	if i < 0 || i >= len(u.RawArguments) {
		return fmt.Errorf("signalr: upstream: argument %d of %d", i, len(u.RawArguments))
	}
	raw := u.RawArguments[i]
	if u.Protocol == ProtocolMessagePack {
		if n, err := msgpackscan.Len(raw); err != nil || n != len(raw) {
			return fmt.Errorf("signalr: upstream: argument %d is not one well-formed MessagePack value", i)
		}
		d := msgpack.GetDecoder()
		defer msgpack.PutDecoder(d)
		d.Reset(bytes.NewReader(raw))
		d.SetCustomStructTag("json")
		d.UseLooseInterfaceDecoding(true)
		return d.Decode(v)
	}
	return json.Unmarshal(raw, v)
}

// decodeHeaders reads an invocation's headers, a map of strings or nil,
// from d. The body was scanned (msgpackscan.Len), so the entries the map
// declares are in it: msgpack's Decode into a map would make room for up
// to a million entries whatever the header says (maxMapSize, decode_map.go
// of v5.4.1).
func decodeHeaders(d *msgpack.Decoder) (map[string]string, error) {
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, nil // nil
	}
	h := make(map[string]string, n)
	for range n {
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		if h[k], err = d.DecodeString(); err != nil {
			return nil, err
		}
	}
	return h, nil
}
