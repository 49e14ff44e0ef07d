package emulator

import (
	"encoding/json"
	"sync"
)

// Hub protocol message types (aspnetcore HubProtocol.md).
const (
	msgInvocation       = 1
	msgStreamItem       = 2
	msgCompletion       = 3
	msgStreamInvocation = 4
	msgCancelInvocation = 5
	msgPing             = 6
	msgClose            = 7
	msgAck              = 8
	msgSequence         = 9
)

// outMessage is one server-to-client message, held protocol-neutral. Its
// framed record for each protocol is computed on first use and then shared:
// a broadcast builds one outMessage and queues the same pointer to every
// recipient, so it is encoded at most once per protocol however many
// clients receive it. An outMessage is immutable once queued.
type outMessage struct {
	typ            int
	invocationID   string
	target         string
	args           []json.RawMessage // Invocation arguments, as JSON values
	result         json.RawMessage   // Completion result / StreamItem item (nil: none)
	err            string            // Completion or Close error
	allowReconnect bool              // Close
	sequenceID     int64             // Ack, Sequence

	once [numProtocols]sync.Once
	enc  [numProtocols][]byte
}

// encode returns the framed record of m in protocol p.
func (m *outMessage) encode(p protocol) []byte {
	m.once[p].Do(func() {
		if p == protoMsgpack {
			m.enc[p] = encodeMsgpack(m)
		} else {
			m.enc[p] = encodeJSON(m)
		}
	})
	return m.enc[p]
}

// preset makes b the framed record of m in p (m then never encodes itself
// for p): for records that arrive already encoded, such as an upstream's
// completion or a REST payload that carries one record per protocol.
func (m *outMessage) preset(p protocol, b []byte) *outMessage {
	m.once[p].Do(func() { m.enc[p] = b })
	return m
}

// sequenced reports whether m is numbered for stateful reconnect (the
// message types the JS client's MessageBuffer counts: not Ping, Close, Ack,
// Sequence, nor the handshake response).
func (m *outMessage) sequenced() bool {
	switch m.typ {
	case msgInvocation, msgStreamItem, msgCompletion, msgStreamInvocation, msgCancelInvocation:
		return true
	}
	return false
}

// rawMessage is a record sent as is, identical in every protocol (the
// handshake response, which is JSON text in both).
func rawMessage(b []byte) *outMessage {
	m := &outMessage{}
	for p := range numProtocols {
		m.preset(p, b)
	}
	return m
}

// newInvocation is the Invocation of target with JSON arguments (a REST
// payload: no invocation id, nobody waits for a result).
func newInvocation(target string, args []json.RawMessage) *outMessage {
	if args == nil {
		args = []json.RawMessage{}
	}
	return &outMessage{typ: msgInvocation, target: target, args: args}
}

// newClose is the Close message with an error text (empty: none).
func newClose(reason string, allowReconnect bool) *outMessage {
	return &outMessage{typ: msgClose, err: reason, allowReconnect: allowReconnect}
}

// Shared messages.
var (
	pingMessage        = &outMessage{typ: msgPing}
	handshakeOKMessage = rawMessage(handshakeOK)
)

// clientMessage is one parsed client-to-server message, whatever its
// protocol. Values (arguments, result, item) stay in the client's encoding:
// Protocol.toJSON converts one to JSON.
type clientMessage struct {
	Protocol       protocol
	Raw            []byte // the record without its framing (aliases the read buffer: copy to keep)
	Type           int
	InvocationID   string // "" when absent (an invocation that expects no completion)
	Target         string
	Arguments      [][]byte
	StreamIDs      []string
	Headers        map[string]string
	Item           []byte // StreamItem
	Result         []byte // Completion with a result; nil for void or error
	Error          string // Completion (HasError) or Close
	HasError       bool
	AllowReconnect bool  // Close
	SequenceID     int64 // Ack, Sequence
}

// parseClientMessage decodes one client record in protocol p.
func parseClientMessage(p protocol, rec []byte) (clientMessage, error) {
	if p == protoMsgpack {
		return parseMsgpackMessage(rec)
	}
	return parseJSONMessage(rec)
}
