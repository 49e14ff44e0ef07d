package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/serverless-signalr/functions-go/internal/msgpackscan"
	"github.com/vmihailenco/msgpack/v5"
)

// The binary REST payload. Besides the JSON body {"target","arguments"},
// :send takes what the .NET Management SDK sends in transient mode
// (Azure/azure-signalr src/Microsoft.Azure.SignalR.Common/Utilities/
// BinaryPayloadMessageContent.cs and its tests): Content-Type
// application/octet-stream and a MessagePack map from hub protocol name to
// that protocol's framed Invocation record, as bin:
//
//	{"json": bin(`{"type":1,"target":"t","arguments":[…]}` 0x1E),
//	 "messagepack": bin(varint length, [1, {}, nil, "t", […]])}
//
// so the service gives each client the record of its protocol byte for
// byte, without converting (a MessagePack client then receives bin
// arguments as bin, not as base64 text). With one protocol only, clients of
// the other get the record converted (MessagePack to JSON: bin as base64).

// binaryPayloadType is the media type of the binary payload.
const binaryPayloadType = "application/octet-stream"

// isBinaryPayload reports whether the request body is a binary payload.
func isBinaryPayload(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == binaryPayloadType
}

// decodeBinaryPayload reads a binary payload into one outMessage whose
// encodings for the protocols the payload carries are its records.
func decodeBinaryPayload(body []byte) (*outMessage, error) {
	if _, err := msgpackscan.Len(body); err != nil {
		return nil, fmt.Errorf("the application/octet-stream body is not well-formed MessagePack: %w", err)
	}
	r := bytes.NewReader(body)
	d := msgpack.NewDecoder(r)
	n, err := d.DecodeMapLen()
	if err != nil || n < 1 || n > 2 {
		return nil, errors.New("an application/octet-stream body is a MessagePack map from hub protocol name (\"json\", \"messagepack\") to that protocol's framed Invocation record (what the .NET Management SDK sends in transient mode)")
	}
	var out *outMessage
	var recs [numProtocols][]byte
	var have [numProtocols]bool
	for range n {
		name, err := d.DecodeString()
		if err != nil {
			return nil, errors.New("a key of the payload map is not a string")
		}
		var p protocol
		switch name {
		case "json":
			p = protoJSON
		case "messagepack":
			p = protoMsgpack
		default:
			return nil, fmt.Errorf("unknown hub protocol %q in the payload map: the keys are \"json\" and \"messagepack\"", name)
		}
		if have[p] {
			return nil, fmt.Errorf("hub protocol %q appears twice in the payload map", name)
		}
		framed, err := d.DecodeBytes() // scanned: the length fits
		if err != nil {
			return nil, fmt.Errorf("the %q value of the payload map must be bin: the framed record", name)
		}
		m, err := parseFramedInvocation(p, framed)
		if err != nil {
			return nil, fmt.Errorf("the %q record: %w", name, err)
		}
		if out == nil {
			out = &outMessage{typ: msgInvocation, target: m.Target}
		} else if out.target != m.Target {
			return nil, errors.New("the json and messagepack records invoke different targets")
		}
		if p == protoJSON || !have[protoJSON] {
			// The JSON arguments: from the JSON record when there is one.
			out.args = out.args[:0]
			for _, a := range m.Arguments {
				j, err := p.toJSON(a)
				if err != nil {
					return nil, fmt.Errorf("the %q record: an argument: %w", name, err)
				}
				out.args = append(out.args, j)
			}
		}
		have[p], recs[p] = true, framed
	}
	if r.Len() != 0 {
		return nil, errors.New("trailing bytes after the payload map")
	}
	for p := range numProtocols {
		if have[p] {
			out.preset(p, recs[p])
		}
	}
	return out, nil
}

// parseFramedInvocation checks that framed is exactly one record of p: an
// Invocation with a target and without invocation id (nobody waits for a
// result of a REST send).
func parseFramedInvocation(p protocol, framed []byte) (clientMessage, error) {
	recs, rest, err := p.split(framed)
	if err != nil {
		return clientMessage{}, err
	}
	if len(recs) != 1 || len(rest) != 0 {
		return clientMessage{}, errors.New("must be exactly one framed record (JSON ending in 0x1E, or MessagePack with its varint length)")
	}
	m, err := parseClientMessage(p, recs[0])
	if err != nil {
		return m, err
	}
	switch {
	case m.Type != msgInvocation:
		return m, fmt.Errorf("must be an Invocation (type 1), not type %d", m.Type)
	case m.Target == "":
		return m, errors.New("has no target")
	case m.InvocationID != "":
		return m, errors.New("must not have an invocationId: a REST send expects no completion")
	}
	return m, nil
}
