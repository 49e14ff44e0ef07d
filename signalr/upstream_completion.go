package signalr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/serverless-signalr/functions-go/internal/msgpackscan"
	"github.com/vmihailenco/msgpack/v5"
)

// Completion is a decoded hub-protocol Completion, the answer of an upstream
// to an invocation.
type Completion struct {
	InvocationID string
	// Error is the error message; empty for a successful invocation.
	Error string
	// HasResult is false for a void completion (and for errors).
	HasResult bool
	// Result is the raw result in the protocol's encoding.
	Result []byte
}

// ParseCompletion decodes one framed Completion record in protocol
// ([ProtocolJSON]: JSON ending in 0x1E; [ProtocolMessagePack]: varint
// length prefix). It is what a client would read from an upstream's answer.
func ParseCompletion(protocol string, record []byte) (*Completion, error) {
	if protocol == ProtocolMessagePack {
		return parseMessagePackCompletion(record)
	}
	if len(record) == 0 || record[len(record)-1] != recordSeparator {
		return nil, errors.New("the JSON record does not end with the record separator 0x1E")
	}
	body := record[:len(record)-1]
	if bytes.IndexByte(body, recordSeparator) >= 0 {
		return nil, errors.New("the answer holds more than one JSON record")
	}
	var m struct {
		Type         int             `json:"type"`
		InvocationID string          `json:"invocationId"`
		Error        *string         `json:"error"`
		Result       json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("the record is not a JSON object: %s", jsonErrText(err))
	}
	if m.Type != msgTypeCompletion {
		return nil, fmt.Errorf("the record has type %d, not 3 (Completion)", m.Type)
	}
	c := &Completion{InvocationID: m.InvocationID, HasResult: m.Result != nil, Result: m.Result}
	if m.Error != nil {
		if *m.Error == "" || c.HasResult {
			return nil, errors.New("the completion has an empty error or both an error and a result")
		}
		c.Error, c.HasResult, c.Result = *m.Error, false, nil
	}
	return c, nil
}

func parseMessagePackCompletion(record []byte) (*Completion, error) {
	n, k := binary.Uvarint(record)
	if k <= 0 || k > 5 {
		return nil, errors.New("the MessagePack record has no valid varint length prefix")
	}
	if n != uint64(len(record)-k) {
		return nil, fmt.Errorf("the length prefix says %d bytes, %d follow", n, len(record)-k)
	}
	body := record[k:]
	if m, err := msgpackscan.Len(body); err != nil {
		return nil, fmt.Errorf("the record is not well-formed MessagePack: %w", err)
	} else if m != len(body) {
		return nil, errors.New("bytes follow the completion")
	}
	d := msgpack.GetDecoder()
	defer msgpack.PutDecoder(d)
	r := bytes.NewReader(body)
	d.Reset(r)
	l, err := d.DecodeArrayLen()
	if err != nil || l < 4 {
		return nil, errors.New("the record is not a MessagePack array of at least 4 elements")
	}
	if t, err := d.DecodeInt(); err != nil || t != msgTypeCompletion {
		return nil, errors.New("the record is not a Completion (type 3)")
	}
	if err := d.Skip(); err != nil {
		return nil, errors.New("the completion's headers are malformed")
	}
	c := &Completion{}
	if c.InvocationID, err = d.DecodeString(); err != nil {
		return nil, errors.New("the invocation id is not a string")
	}
	kind, err := d.DecodeInt()
	if err != nil {
		return nil, errors.New("the result kind is not an integer")
	}
	switch {
	case kind == resultKindError && l >= 5:
		if c.Error, err = d.DecodeString(); err != nil || c.Error == "" {
			return nil, errors.New("the error is not a non-empty string")
		}
	case kind == resultKindVoid:
	case kind == resultKindValue && l >= 5:
		if c.Result, err = d.DecodeRaw(); err != nil {
			return nil, errors.New("the result is not a MessagePack value")
		}
		c.HasResult = true
	default:
		return nil, fmt.Errorf("result kind %d with %d elements is not a valid completion", kind, l)
	}
	return c, nil // elements past the fifth, from a newer protocol, are ignored
}
