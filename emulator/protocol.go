package emulator

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coder/websocket"
)

// protocol is the hub protocol a connection chose in its handshake. Messages
// are held protocol-neutral (outMessage, clientMessage) and encoded or
// decoded per protocol; see aspnetcore src/SignalR/docs/specs/HubProtocol.md.
type protocol uint8

const (
	// protoJSON is {"protocol":"json","version":1}: UTF-8 JSON records, each
	// terminated by 0x1E, carried in text frames.
	protoJSON protocol = iota
	// protoMsgpack is {"protocol":"messagepack","version":1}: MessagePack
	// arrays, each prefixed by its length as a varint, carried in binary
	// frames (WebSockets, long polling; never Server-Sent Events).
	protoMsgpack
	numProtocols
)

// String is the protocol's handshake name.
func (p protocol) String() string {
	if p == protoMsgpack {
		return "messagepack"
	}
	return "json"
}

// contentType is the media type of one unframed message of the protocol
// (what upstream requests carry).
func (p protocol) contentType() string {
	if p == protoMsgpack {
		return "application/x-msgpack"
	}
	return "application/json"
}

// binary reports whether the protocol needs a binary transfer format.
func (p protocol) binary() bool { return p == protoMsgpack }

// frameType is the WebSocket frame type that carries the protocol.
func (p protocol) frameType() websocket.MessageType {
	if p.binary() {
		return websocket.MessageBinary
	}
	return websocket.MessageText
}

// split splits buf into complete records (without their framing) and the
// bytes of an unfinished record. The returned slices alias buf. An error
// means the stream is broken (a malformed or oversized length prefix).
func (p protocol) split(buf []byte) (records [][]byte, rest []byte, err error) {
	if p == protoMsgpack {
		return splitBinaryRecords(buf, readLimit)
	}
	records, rest = splitRecords(buf)
	return records, rest, nil
}

// toJSON converts one value encoded in the protocol to JSON text.
func (p protocol) toJSON(raw []byte) (json.RawMessage, error) {
	if p == protoMsgpack {
		return msgpackToJSON(raw)
	}
	return json.RawMessage(raw), nil
}

// handshakeRequest is the first record a client sends.
type handshakeRequest struct {
	Protocol *string `json:"protocol"`
	Version  *int    `json:"version"`
}

// parseHandshake validates the handshake record and returns the protocol
// and its version, or a non-nil error whose text is suitable for the
// `{"error":…}` handshake response. Version 2 is version 1 plus Ack and
// Sequence: the JS client asks for it when stateful reconnect is on, and
// ASP.NET Core accepts every version up to its own (2).
func parseHandshake(rec []byte) (protocol, int, error) {
	var h handshakeRequest
	if err := json.Unmarshal(rec, &h); err != nil {
		return 0, 0, errors.New("handshake was not valid JSON: expected {\"protocol\":\"json\",\"version\":1} or {\"protocol\":\"messagepack\",\"version\":1}")
	}
	if h.Protocol == nil || h.Version == nil {
		return 0, 0, errors.New("handshake is missing \"protocol\" or \"version\": expected {\"protocol\":\"json\",\"version\":1} or {\"protocol\":\"messagepack\",\"version\":1}")
	}
	var p protocol
	switch *h.Protocol {
	case "json":
		p = protoJSON
	case "messagepack":
		p = protoMsgpack
	default:
		return 0, 0, fmt.Errorf("the emulator does not support the %q hub protocol; use \"json\" or \"messagepack\" (version 1)", *h.Protocol)
	}
	if *h.Version != 1 && *h.Version != 2 {
		return 0, 0, fmt.Errorf("the emulator does not support version %d of the %q hub protocol; use version 1 (or 2, which adds stateful reconnect's Ack and Sequence)", *h.Version, *h.Protocol)
	}
	return p, *h.Version, nil
}
