package signalr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// recordSeparator ends every JSON hub-protocol record.
const recordSeparator = 0x1e

// Completion result kinds of the MessagePack encoding (HubProtocol.md).
const (
	resultKindError = 1
	resultKindVoid  = 2
	resultKindValue = 3
)

// AppendCompletion appends to dst the framed Completion answering u's
// invocation, in u's protocol: with errMsg when it is not empty, else with
// result, else (result nil) a void completion. JSON records end in 0x1E;
// MessagePack records are prefixed with their varint length. The service
// relays the record to the client byte for byte (concept-upstream.md,
// "Response").
func (u *UpstreamRequest) AppendCompletion(dst []byte, result any, errMsg string) ([]byte, error) {
	if u.Protocol == ProtocolMessagePack {
		return appendMessagePackCompletion(dst, u.InvocationID, result, errMsg)
	}
	return appendJSONCompletion(dst, u.InvocationID, result, errMsg)
}

func appendJSONCompletion(dst []byte, id string, result any, errMsg string) ([]byte, error) {
	dst = append(dst, `{"type":3,"invocationId":`...)
	dst = appendJSONString(dst, id)
	switch {
	case errMsg != "":
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, errMsg)
	case result != nil:
		b, err := json.Marshal(result)
		if err != nil {
			return dst, fmt.Errorf("signalr: upstream: the result cannot be encoded as JSON: %w", err)
		}
		dst = append(dst, `,"result":`...)
		dst = append(dst, b...)
	}
	return append(dst, '}', recordSeparator), nil
}

// packBuf is the scratch buffer of one MessagePack completion.
var packBuf = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func appendMessagePackCompletion(dst []byte, id string, result any, errMsg string) ([]byte, error) {
	buf := packBuf.Get().(*bytes.Buffer)
	defer packBuf.Put(buf)
	buf.Reset()
	e := msgpack.GetEncoder()
	defer msgpack.PutEncoder(e)
	e.Reset(buf)
	e.SetCustomStructTag("json")
	e.UseCompactInts(true)
	n := 5
	if errMsg == "" && result == nil {
		n = 4
	}
	err := errors.Join(e.EncodeArrayLen(n), e.EncodeInt(msgTypeCompletion), e.EncodeMapLen(0), e.EncodeString(id))
	switch {
	case errMsg != "":
		err = errors.Join(err, e.EncodeInt(resultKindError), e.EncodeString(errMsg))
	case result == nil:
		err = errors.Join(err, e.EncodeInt(resultKindVoid))
	default:
		err = errors.Join(err, e.EncodeInt(resultKindValue), e.Encode(result))
	}
	if err != nil {
		return dst, fmt.Errorf("signalr: upstream: the result cannot be encoded as MessagePack: %w", err)
	}
	dst = binary.AppendUvarint(dst, uint64(buf.Len())) // HubProtocol.md's 7-bit length prefix is LEB128
	return append(dst, buf.Bytes()...), nil
}

// WriteUpstreamResult answers u with result: 204 without a body when the
// call needs no completion (a connection event or an invocation without
// invocation id), else 200 with the framed completion (void when result is
// nil). When result cannot be encoded the client gets an error completion
// instead, and the encoding error is returned.
func WriteUpstreamResult(w http.ResponseWriter, u *UpstreamRequest, result any) error {
	if u.Category != UpstreamMessages || u.InvocationID == "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	b, err := u.AppendCompletion(nil, result, "")
	if err != nil {
		WriteUpstreamError(w, u, "The hub method's result could not be serialized.")
		return err
	}
	writeCompletion(w, u, b)
	return nil
}

// WriteUpstreamError answers u's invocation with an error completion whose
// message the client sees (the invoke promise rejects with it), or with 204
// when the call needs no completion.
func WriteUpstreamError(w http.ResponseWriter, u *UpstreamRequest, message string) {
	if u.Category != UpstreamMessages || u.InvocationID == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if message == "" {
		message = "The invocation failed."
	}
	b, _ := u.AppendCompletion(nil, nil, message) // an error completion always encodes
	writeCompletion(w, u, b)
}

func writeCompletion(w http.ResponseWriter, u *UpstreamRequest, b []byte) {
	h := w.Header()
	if u.Protocol == ProtocolMessagePack {
		h["Content-Type"] = []string{ContentTypeMessagePack}
	} else {
		h["Content-Type"] = []string{ContentTypeJSON}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
