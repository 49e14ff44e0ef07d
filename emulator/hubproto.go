package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// recordSeparator terminates every record of the JSON hub protocol.
const recordSeparator = 0x1E

// Hub protocol message types (aspnetcore HubProtocol.md).
const (
	msgInvocation       = 1
	msgStreamItem       = 2
	msgCompletion       = 3
	msgStreamInvocation = 4
	msgCancelInvocation = 5
	msgPing             = 6
	msgClose            = 7
)

// pingRecord is the pre-encoded server ping.
var pingRecord = []byte("{\"type\":6}\x1e")

// handshakeOK is the successful handshake response.
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

// handshakeRequest is the first record a client sends.
type handshakeRequest struct {
	Protocol *string `json:"protocol"`
	Version  *int    `json:"version"`
}

// parseHandshake validates the handshake record and returns a non-nil error
// whose text is suitable for the `{"error":…}` handshake response.
func parseHandshake(rec []byte) error {
	var h handshakeRequest
	if err := json.Unmarshal(rec, &h); err != nil {
		return errors.New("handshake was not valid JSON: expected {\"protocol\":\"json\",\"version\":1}")
	}
	if h.Protocol == nil || h.Version == nil {
		return errors.New("handshake is missing \"protocol\" or \"version\": expected {\"protocol\":\"json\",\"version\":1}")
	}
	if *h.Protocol != "json" {
		return fmt.Errorf("the emulator does not support the %q hub protocol; use the JSON hub protocol (protocol \"json\", version 1)", *h.Protocol)
	}
	if *h.Version != 1 {
		return fmt.Errorf("the emulator does not support version %d of the \"json\" hub protocol; use version 1", *h.Version)
	}
	return nil
}

// messageType reads the "type" field of a client record.
func messageType(rec []byte) (int, error) {
	var m struct {
		Type *int `json:"type"`
	}
	if err := json.Unmarshal(rec, &m); err != nil {
		return 0, errors.New("message is not valid JSON")
	}
	if m.Type == nil {
		return 0, errors.New("message has no \"type\" field")
	}
	return *m.Type, nil
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

// invocation is the server-to-client Invocation message (no invocationId:
// nobody waits for a result).
type invocation struct {
	Type      int               `json:"type"`
	Target    string            `json:"target"`
	Arguments []json.RawMessage `json:"arguments"`
}

// encodeInvocation builds the record for a REST payload. The arguments are
// already valid JSON (they come from a decoded request body).
func encodeInvocation(target string, args []json.RawMessage) []byte {
	if args == nil {
		args = []json.RawMessage{}
	}
	return encodeRecord(invocation{Type: msgInvocation, Target: target, Arguments: args})
}

// closeMessage is the Close message.
type closeMessage struct {
	Type  int    `json:"type"`
	Error string `json:"error,omitempty"`
}

// encodeClose builds a Close record carrying reason as its error text.
func encodeClose(reason string) []byte {
	return encodeRecord(closeMessage{Type: msgClose, Error: reason})
}

// encodeHandshakeError builds the failed handshake response.
func encodeHandshakeError(msg string) []byte {
	return encodeRecord(struct {
		Error string `json:"error"`
	}{msg})
}
