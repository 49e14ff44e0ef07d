package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// Limits of the broadcast body.
const (
	maxBroadcastBody  = 8 << 20 // whole body; each message is limited to 1 MB by the service
	maxBroadcastItems = 1000
)

// outputKind is what one item of a broadcast body asks for.
type outputKind int

const (
	kindMessage outputKind = iota
	kindGroupAction
)

// outputItem is one item of the Functions SignalR output binding's JSON: a
// message {target, arguments, userId?, groupName?, connectionId?,
// excluded?, endpoints?} or a group action {action, userId?|connectionId?,
// groupName?, ttl?}. Keys are matched case-insensitively, as the extension
// (Newtonsoft) does.
type outputItem struct {
	Target       string          `json:"target"`
	Arguments    json.RawMessage `json:"arguments"`
	UserID       string          `json:"userId"`
	GroupName    string          `json:"groupName"`
	ConnectionID string          `json:"connectionId"`
	Excluded     []string        `json:"excluded"`
	Endpoints    []string        `json:"endpoints"`
	Action       string          `json:"action"`
	TTL          *int64          `json:"ttl"`
	Filter       string          `json:"filter"` // broadcast_filter.go

	kind  outputKind
	route string // message: connection, user, group, all; action: add, remove, removeAll
}

// smallBroadcastBody is the largest body read whole before it is decoded
// (readBroadcast): one JSON pass instead of the streaming decoder's two.
const smallBroadcastBody = 64 << 10

// readBroadcast reads and decodes a broadcast body: a small body with a
// known length whole (decodeBroadcast), any other as it arrives
// (decodeBroadcastFrom). Both give the same items and the same errors.
func readBroadcast(body io.Reader, contentLength int64) ([]outputItem, error) {
	if contentLength <= 0 || contentLength > smallBroadcastBody {
		return decodeBroadcastFrom(body)
	}
	// One byte more than announced, so that the reader reports its end
	// (bodyDeadline clears the read deadline there).
	buf := make([]byte, contentLength+1)
	n, err := io.ReadFull(body, buf)
	if err != io.ErrUnexpectedEOF || int64(n) != contentLength {
		if err == nil || err == io.ErrUnexpectedEOF {
			err = io.ErrUnexpectedEOF // net/http enforces Content-Length; not expected
		}
		return nil, bodyReadError(err, maxBroadcastBody)
	}
	return decodeBroadcast(buf[:n])
}

// decodeBroadcast parses and validates a broadcast body: one item or an
// array of items. Every problem is a 400-class *apperr.Error that names the
// item and field; nothing is sent unless the whole body is valid. A valid
// body is decoded in one json.Unmarshal; any problem is reported by
// decodeBroadcastFrom, which names the item at fault.
func decodeBroadcast(body []byte) ([]outputItem, error) {
	if items, ok := decodeBroadcastFast(body); ok {
		return items, nil
	}
	return decodeBroadcastFrom(bytes.NewReader(body))
}

// decodeBroadcastFast decodes and validates a valid body in one pass; ok
// is false for anything decodeBroadcastFrom would refuse (and may be false
// for some bodies it accepts, which it then decodes itself).
func decodeBroadcastFast(body []byte) (items []outputItem, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, false
	}
	switch body[0] {
	case '{':
		items = make([]outputItem, 1)
		if json.Unmarshal(body, &items[0]) != nil {
			return nil, false
		}
	case '[':
		if json.Unmarshal(body, &items) != nil || len(items) == 0 || len(items) > maxBroadcastItems {
			return nil, false
		}
	default:
		return nil, false
	}
	for i := range items {
		// A null element decodes as an empty item, which validate refuses.
		if items[i].validate() != nil {
			return nil, false
		}
	}
	return items, true
}

// decodeBroadcastFrom is decodeBroadcast reading the body from r as it
// arrives: one item at a time is buffered, so the decoded items (their
// arguments) are the only copy of the body held. A body cut by
// http.MaxBytesReader is 413, one that did not arrive within
// HANDLER_READ_TIMEOUT 408 (see bodyReadError).
func decodeBroadcastFrom(r io.Reader) ([]outputItem, error) {
	br := bufio.NewReader(r)
	first, err := firstByte(br)
	if err == io.EOF {
		return nil, apperr.New(apperr.CodeBroadcastEmpty, "the body is empty", "")
	}
	if err != nil {
		return nil, bodyReadError(err, maxBroadcastBody)
	}
	dec := json.NewDecoder(br)
	var items []outputItem
	add := func() error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return broadcastJSONError(err)
		}
		items = append(items, outputItem{})
		if err := items[len(items)-1].decode(raw); err != nil {
			if first == '[' {
				err.Message = fmt.Sprintf("item %d: %s", len(items)-1, err.Message)
			}
			return err
		}
		return nil
	}
	switch first {
	case '[':
		if _, err := dec.Token(); err != nil {
			return nil, broadcastJSONError(err)
		}
		for dec.More() {
			if len(items) == maxBroadcastItems {
				return nil, apperr.New(apperr.CodeBroadcastInvalid, fmt.Sprintf("the body has more than %d items; at most %d are accepted in one request", maxBroadcastItems, maxBroadcastItems), "Split the batch.")
			}
			if err := add(); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, broadcastJSONError(err)
		}
		if len(items) == 0 {
			return nil, apperr.New(apperr.CodeBroadcastEmpty, "the body is an empty array", "")
		}
	case '{':
		if err := add(); err != nil {
			return nil, err
		}
	default:
		return nil, apperr.New(apperr.CodeBroadcastInvalidJSON, "the body must be a JSON object or an array of objects", "")
	}
	// Nothing but white space may follow.
	if _, err := dec.Token(); err != io.EOF {
		if err != nil && !isJSONError(err) {
			return nil, bodyReadError(err, maxBroadcastBody)
		}
		return nil, apperr.New(apperr.CodeBroadcastInvalidJSON, "the body is not valid JSON (data after the end)", "")
	}
	return items, nil
}

// firstByte returns the first byte after white space, unread.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, br.UnreadByte()
		}
	}
}

// isJSONError reports whether err is about the JSON text, not reading it.
func isJSONError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// broadcastJSONError maps a decoder error: bad JSON is 400, a failed read
// is bodyReadError's.
func broadcastJSONError(err error) *apperr.Error {
	if isJSONError(err) {
		return apperr.New(apperr.CodeBroadcastInvalidJSON, "the body is not valid JSON", "")
	}
	return bodyReadError(err, maxBroadcastBody)
}

func (it *outputItem) decode(raw json.RawMessage) *apperr.Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return apperr.New(apperr.CodeBroadcastInvalid, "an item is not a JSON object", "")
	}
	if err := json.Unmarshal(raw, it); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return apperr.New(apperr.CodeBroadcastInvalid, fmt.Sprintf("field %q has the wrong type (%s)", te.Field, te.Value), "")
		}
		return apperr.New(apperr.CodeBroadcastInvalidJSON, "the body is not valid JSON", "")
	}
	return it.validate()
}

// validate checks a decoded item and sets its kind and route.
func (it *outputItem) validate() *apperr.Error {
	var err *apperr.Error
	if it.Action != "" {
		err = it.validateAction()
	} else {
		err = it.validateMessage()
	}
	if err == nil && it.Filter != "" {
		err = it.validateFilter()
	}
	return err
}

func (it *outputItem) validateMessage() *apperr.Error {
	it.kind = kindMessage
	if strings.TrimSpace(it.Target) == "" {
		return apperr.New(apperr.CodeBroadcastMissingTarget, "the message has no target", "")
	}
	args := bytes.TrimSpace(it.Arguments)
	if len(args) == 0 || string(args) == "null" {
		it.Arguments = json.RawMessage("[]")
	} else if args[0] != '[' {
		return apperr.New(apperr.CodeBroadcastInvalid, "arguments must be a JSON array", "Wrap a single argument in [ ].")
	}
	// Routing priority of the extension: connectionId > userId > groupName > all.
	switch {
	case it.ConnectionID != "":
		it.route = "connection"
	case it.UserID != "":
		it.route = "user"
	case it.GroupName != "":
		it.route = "group"
		if err := signalr.ValidateGroupName(it.GroupName); err != nil {
			return apperr.New(apperr.CodeBroadcastInvalidGroup, fmt.Sprintf("groupName is invalid: %v", err), "")
		}
	default:
		it.route = "all"
	}
	for _, x := range it.Excluded {
		if strings.TrimSpace(x) == "" {
			return apperr.New(apperr.CodeBroadcastInvalid, "excluded holds an empty connection id", "")
		}
	}
	if len(it.Excluded) > 0 && it.route != "all" && it.route != "group" {
		return apperr.New(apperr.CodeBroadcastInvalid, "excluded applies only to messages for all clients or for a group", "Remove excluded, or drop connectionId/userId.")
	}
	if size := len(it.Target) + len(it.Arguments) + 26; size > signalr.MaxPayloadSize {
		return apperr.New(apperr.CodeBroadcastTooLarge, fmt.Sprintf("the message is %d bytes; the service accepts at most %d", size, signalr.MaxPayloadSize), "")
	}
	return nil
}

func (it *outputItem) validateAction() *apperr.Error {
	it.kind = kindGroupAction
	switch strings.ToLower(it.Action) {
	case "add":
		it.route = "add"
	case "remove":
		it.route = "remove"
	case "removeall":
		it.route = "removeAll"
	default:
		return apperr.New(apperr.CodeBroadcastUnknownAction, fmt.Sprintf("action %q is unknown", textutil.Truncate(it.Action, 32)), "")
	}
	if it.Target != "" {
		return apperr.New(apperr.CodeBroadcastInvalid, "an item has both action and target; send the message and the group action as two items", "")
	}
	if it.ConnectionID == "" && it.UserID == "" && it.Filter == "" {
		return apperr.New(apperr.CodeBroadcastMissingID, fmt.Sprintf("the %s action names neither userId nor connectionId", it.route), "")
	}
	if it.route != "removeAll" {
		if err := signalr.ValidateGroupName(it.GroupName); err != nil {
			return apperr.New(apperr.CodeBroadcastInvalidGroup, fmt.Sprintf("groupName is invalid: %v", err), "")
		}
	}
	if it.TTL != nil {
		if *it.TTL < 0 {
			return apperr.New(apperr.CodeBroadcastInvalid, "ttl must not be negative", "")
		}
		if it.ConnectionID != "" || it.route != "add" {
			return apperr.New(apperr.CodeBroadcastInvalid, "ttl applies only to adding a user to a group", "")
		}
	}
	return nil
}
