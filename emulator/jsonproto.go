package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
)

// recordSeparator terminates every record of the JSON hub protocol.
const recordSeparator = 0x1E

// handshakeOK is the successful handshake response (JSON text whatever the
// protocol).
var handshakeOK = []byte("{}\x1e")

// splitRecords splits buf into complete records (without their separator)
// and the trailing bytes of an unfinished record. The returned slices alias
// buf. Empty records (two separators in a row) are returned as empty slices so
// the caller can reject them.
func splitRecords(buf []byte) (records [][]byte, rest []byte) {
	for {
		i := bytes.IndexByte(buf, recordSeparator)
		if i < 0 {
			return records, buf
		}
		records = append(records, buf[:i])
		buf = buf[i+1:]
	}
}

// encodeRecord marshals v as one record.
func encodeRecord(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only emulator-built values reach here; they always marshal.
		panic(err)
	}
	return append(b, recordSeparator)
}

// jsonMessage is the JSON shape of every message type; omitted fields are
// the ones a type does not have.
type jsonMessage struct {
	Type           int               `json:"type"`
	InvocationID   string            `json:"invocationId,omitempty"`
	Target         string            `json:"target,omitempty"`
	Arguments      []json.RawMessage `json:"arguments,omitempty"`
	Item           json.RawMessage   `json:"item,omitempty"`
	Result         json.RawMessage   `json:"result,omitempty"`
	Error          string            `json:"error,omitempty"`
	AllowReconnect bool              `json:"allowReconnect,omitempty"`
	SequenceID     *int64            `json:"sequenceId,omitempty"`
}

// encodeJSON returns the framed JSON record of m.
func encodeJSON(m *outMessage) []byte {
	j := jsonMessage{Type: m.typ, InvocationID: m.invocationID, Error: m.err}
	switch m.typ {
	case msgInvocation, msgStreamInvocation:
		j.Target = m.target
		if len(m.args) == 0 {
			// "arguments" is required, even when empty.
			return encodeRecord(struct {
				Type         int               `json:"type"`
				InvocationID string            `json:"invocationId,omitempty"`
				Target       string            `json:"target"`
				Arguments    []json.RawMessage `json:"arguments"`
			}{m.typ, m.invocationID, m.target, []json.RawMessage{}})
		}
		j.Arguments = m.args
	case msgStreamItem:
		j.Item = m.result
	case msgCompletion:
		j.Result = m.result
	case msgClose:
		j.AllowReconnect = m.allowReconnect
	case msgAck, msgSequence:
		j.SequenceID = &m.sequenceID
	}
	return encodeRecord(j)
}

// encodeHandshakeError builds the failed handshake response.
func encodeHandshakeError(msg string) []byte {
	return encodeRecord(struct {
		Error string `json:"error"`
	}{msg})
}

// jsonClientRecord is what the emulator reads of a client's JSON record.
type jsonClientRecord struct {
	Type           *int              `json:"type"`
	InvocationID   *string           `json:"invocationId"`
	Target         string            `json:"target"`
	Arguments      []json.RawMessage `json:"arguments"`
	StreamIDs      []string          `json:"streamIds"`
	Headers        map[string]string `json:"headers"`
	Item           json.RawMessage   `json:"item"`
	Result         json.RawMessage   `json:"result"`
	Error          *string           `json:"error"`
	AllowReconnect bool              `json:"allowReconnect"`
	SequenceID     *int64            `json:"sequenceId"`
}

// parseJSONMessage decodes one client record (without its separator).
func parseJSONMessage(rec []byte) (clientMessage, error) {
	m := clientMessage{Protocol: protoJSON, Raw: rec}
	var j jsonClientRecord
	if err := json.Unmarshal(rec, &j); err != nil {
		return m, errors.New("message is not valid JSON (or a field has the wrong type)")
	}
	if j.Type == nil {
		return m, errors.New("message has no \"type\" field")
	}
	m.Type = *j.Type
	if j.InvocationID != nil {
		m.InvocationID = *j.InvocationID
	}
	m.Target, m.StreamIDs, m.Headers, m.AllowReconnect = j.Target, j.StreamIDs, j.Headers, j.AllowReconnect
	m.Item = j.Item
	for _, a := range j.Arguments {
		m.Arguments = append(m.Arguments, a)
	}
	if j.Error != nil {
		m.Error, m.HasError = *j.Error, true
	}
	if j.Result != nil && !m.HasError {
		m.Result = j.Result
	}
	if j.SequenceID != nil {
		m.SequenceID = *j.SequenceID
	}
	switch m.Type {
	case msgInvocation, msgStreamInvocation:
		if m.Target == "" {
			return m, errors.New("invocation without a \"target\"")
		}
	case msgStreamItem, msgCompletion, msgCancelInvocation:
		if m.InvocationID == "" {
			return m, errors.New("message without an \"invocationId\"")
		}
	case msgAck, msgSequence:
		if j.SequenceID == nil {
			return m, errors.New("message without a \"sequenceId\"")
		}
	}
	return m, nil
}
