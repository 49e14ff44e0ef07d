package signalr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
)

// binaryContentType is the media type of a binary message body.
const binaryContentType = "application/octet-stream"

// NewBinaryMessage encodes args as the arguments of a message to target for
// both hub protocols at once, as the .NET Management SDK does in transient
// mode (Azure/azure-signalr BinaryPayloadMessageContent): the send's body is
// application/octet-stream, a MessagePack map from protocol name ("json",
// "messagepack") to that protocol's framed Invocation record, and the
// service gives every client the record of its protocol without converting.
// So []byte arguments reach MessagePack clients as bin (a Uint8Array in
// JavaScript) and JSON clients as base64 text, and each protocol gets its
// own encoding of every other value: MessagePack with the field names of
// the json struct tags, time.Time as a MessagePack timestamp (a Date in
// JavaScript) and as RFC 3339 text in JSON.
//
// A binary message works with the send methods (SendToAll, SendToUser,
// SendToConnection, SendToGroup); elsewhere, such as in [SendMessageCommand],
// its JSON Arguments are used. Do not change the returned message's fields:
// the body is built once, here.
func NewBinaryMessage(target string, args ...any) (Message, error) {
	if strings.TrimSpace(target) == "" {
		return Message{}, &ArgumentError{Name: ArgTarget, Reason: "must not be empty"}
	}
	if args == nil {
		args = []any{}
	}
	jsonArgs, err := json.Marshal(args)
	if err != nil {
		return Message{}, &ArgumentError{Name: ArgArguments, Reason: "cannot be encoded as JSON", Err: err}
	}
	mp, err := msgpackInvocation(target, args)
	if err != nil {
		return Message{}, &ArgumentError{Name: ArgArguments, Reason: "cannot be encoded as MessagePack", Err: err}
	}
	m := Message{Target: target, Arguments: jsonArgs}
	jsonRec, err := m.jsonBodyRecord()
	if err != nil {
		return Message{}, err
	}
	var body bytes.Buffer
	enc := msgpack.NewEncoder(&body)
	_ = enc.EncodeMapLen(2)
	_ = enc.EncodeString("json")
	_ = enc.EncodeBytes(jsonRec)
	_ = enc.EncodeString("messagepack")
	_ = enc.EncodeBytes(mp)
	m.binary = body.Bytes()
	return m, nil
}

// jsonBodyRecord is the framed JSON hub-protocol Invocation of m.
func (m Message) jsonBodyRecord() ([]byte, error) {
	b, err := m.body() // {"target":…,"arguments":[…]}, validated
	if err != nil {
		return nil, err
	}
	rec := make([]byte, 0, len(b)+11)
	rec = append(rec, `{"type":1,`...)
	rec = append(rec, b[1:]...)
	return append(rec, 0x1e), nil
}

// msgpackInvocation is the framed MessagePack Invocation
// [1, {}, nil, target, [args…], []] with its varint length prefix.
func msgpackInvocation(target string, args []any) ([]byte, error) {
	var rec bytes.Buffer
	enc := msgpack.NewEncoder(&rec)
	enc.SetCustomStructTag("json")
	enc.UseCompactInts(true)
	_ = enc.EncodeArrayLen(6)
	_ = enc.EncodeInt(1)
	_ = enc.EncodeMapLen(0)
	_ = enc.EncodeNil()
	_ = enc.EncodeString(target)
	_ = enc.EncodeArrayLen(len(args))
	for _, a := range args {
		if err := enc.Encode(a); err != nil {
			return nil, err
		}
	}
	_ = enc.EncodeArrayLen(0)
	return append(binary.AppendUvarint(nil, uint64(rec.Len())), rec.Bytes()...), nil
}

// binaryBody enforces MaxPayloadSize on a binary message's body.
func (m Message) binaryBody() ([]byte, error) {
	if len(m.binary) > MaxPayloadSize {
		return nil, &PayloadTooLargeError{Size: len(m.binary), Limit: MaxPayloadSize}
	}
	return m.binary, nil
}

// contentType is the media type of m's body ("" for JSON).
func (m Message) contentType() string {
	if m.binary != nil {
		return binaryContentType
	}
	return ""
}
