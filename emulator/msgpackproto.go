package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/serverless-signalr/functions-go/internal/msgpackscan"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// The MessagePack hub protocol (aspnetcore src/SignalR/docs/specs/HubProtocol.md,
// "MessagePack (MsgPack) encoding"): every message is an array whose first
// element is the message type, and every record is prefixed by its length
// as a varint (7 bits per byte, least significant group first, at most 5
// bytes, at most 2 GB).

// maxVarintLen is the longest length prefix the protocol allows.
const maxVarintLen = 5

// maxValueDepth bounds the nesting of arrays and maps the emulator converts
// or walks, so a hostile record cannot exhaust the stack.
const maxValueDepth = 256

// errBadLength is a malformed or oversized varint length prefix.
var errBadLength = errors.New("invalid MessagePack record length prefix")

// splitBinaryRecords splits buf into complete length-prefixed records
// (without their prefix) and the bytes of an unfinished one. A record longer
// than limit, or a prefix longer than 5 bytes, is an error.
func splitBinaryRecords(buf []byte, limit int) (records [][]byte, rest []byte, err error) {
	for len(buf) > 0 {
		var n uint64
		i := 0
		for ; ; i++ {
			if i == maxVarintLen {
				return records, nil, errBadLength
			}
			if i == len(buf) {
				return records, buf, nil // prefix not complete yet
			}
			b := buf[i]
			n |= uint64(b&0x7f) << (7 * i)
			if b&0x80 == 0 {
				break
			}
		}
		if n > math.MaxInt32 || n > uint64(limit) {
			return records, nil, fmt.Errorf("MessagePack record of %d bytes is over the %d-byte limit", n, limit)
		}
		start := i + 1
		if uint64(len(buf)-start) < n {
			return records, buf, nil
		}
		end := start + int(n)
		records = append(records, buf[start:end])
		buf = buf[end:]
	}
	return records, nil, nil
}

// appendBinaryRecord appends rec with its varint length prefix.
func appendBinaryRecord(dst, rec []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rec)))
	return append(dst, rec...)
}

// msgpackWriter builds one MessagePack message.
type msgpackWriter struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

func newMsgpackWriter() *msgpackWriter {
	w := &msgpackWriter{}
	w.enc = msgpack.NewEncoder(&w.buf)
	return w
}

// framed returns the message with its length prefix.
func (w *msgpackWriter) framed() []byte {
	return appendBinaryRecord(make([]byte, 0, w.buf.Len()+maxVarintLen), w.buf.Bytes())
}

// header writes the array header, the type and (for the message types that
// have them) the headers map, which the emulator always sends empty.
func (w *msgpackWriter) header(n, typ int, withHeaders bool) {
	_ = w.enc.EncodeArrayLen(n)
	_ = w.enc.EncodeInt(int64(typ))
	if withHeaders {
		_ = w.enc.EncodeMapLen(0)
	}
}

func (w *msgpackWriter) optString(s string) {
	if s == "" {
		_ = w.enc.EncodeNil()
		return
	}
	_ = w.enc.EncodeString(s)
}

// encodeMsgpack returns the framed MessagePack record of m.
func encodeMsgpack(m *outMessage) []byte {
	w := newMsgpackWriter()
	switch m.typ {
	case msgInvocation, msgStreamInvocation:
		// [type, headers, invocationId, target, [arguments], [streamIds]]
		w.header(6, m.typ, true)
		w.optString(m.invocationID)
		_ = w.enc.EncodeString(m.target)
		_ = w.enc.EncodeArrayLen(len(m.args))
		for _, a := range m.args {
			if err := jsonToMsgpack(w.enc, a); err != nil {
				// REST arguments were validated as JSON when the body was
				// decoded; this cannot happen.
				_ = w.enc.EncodeNil()
			}
		}
		_ = w.enc.EncodeArrayLen(0)
	case msgStreamItem:
		// [2, headers, invocationId, item]
		w.header(4, m.typ, true)
		_ = w.enc.EncodeString(m.invocationID)
		if err := jsonToMsgpack(w.enc, m.result); err != nil {
			_ = w.enc.EncodeNil()
		}
	case msgCompletion:
		// [3, headers, invocationId, resultKind (1 error, 2 void, 3 result), value?]
		switch {
		case m.err != "":
			w.header(5, m.typ, true)
			_ = w.enc.EncodeString(m.invocationID)
			_ = w.enc.EncodeInt(1)
			_ = w.enc.EncodeString(m.err)
		case m.result == nil:
			w.header(4, m.typ, true)
			_ = w.enc.EncodeString(m.invocationID)
			_ = w.enc.EncodeInt(2)
		default:
			w.header(5, m.typ, true)
			_ = w.enc.EncodeString(m.invocationID)
			_ = w.enc.EncodeInt(3)
			if err := jsonToMsgpack(w.enc, m.result); err != nil {
				_ = w.enc.EncodeNil()
			}
		}
	case msgCancelInvocation:
		w.header(3, m.typ, true)
		_ = w.enc.EncodeString(m.invocationID)
	case msgPing:
		w.header(1, m.typ, false)
	case msgClose:
		// [7, error, allowReconnect]
		w.header(3, m.typ, false)
		w.optString(m.err)
		_ = w.enc.EncodeBool(m.allowReconnect)
	case msgAck, msgSequence:
		w.header(2, m.typ, false)
		_ = w.enc.EncodeInt(m.sequenceID)
	default:
		return nil
	}
	return w.framed()
}

// jsonToMsgpack writes the JSON value raw as MessagePack: integers stay
// integers (int64, or uint64 above it; only integers beyond uint64 become
// float64, as JSON.parse would make them), other numbers become float64,
// objects become maps with their keys in order.
func jsonToMsgpack(enc *msgpack.Encoder, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := readJSONNode(dec)
	if err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return v.encode(enc)
}

// jsonNode is a parsed JSON value that keeps the order of object keys.
type jsonNode struct {
	tok  json.Token // nil, bool, json.Number, string; or json.Delim for containers
	keys []string
	kids []jsonNode
}

func readJSONNode(dec *json.Decoder) (jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return jsonNode{}, err
	}
	n := jsonNode{tok: tok}
	switch tok {
	case json.Delim('['):
		for dec.More() {
			kid, err := readJSONNode(dec)
			if err != nil {
				return jsonNode{}, err
			}
			n.kids = append(n.kids, kid)
		}
		_, err = dec.Token()
	case json.Delim('{'):
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return jsonNode{}, err
			}
			kid, err := readJSONNode(dec)
			if err != nil {
				return jsonNode{}, err
			}
			n.keys = append(n.keys, k.(string))
			n.kids = append(n.kids, kid)
		}
		_, err = dec.Token()
	}
	return n, err
}

func (n jsonNode) encode(enc *msgpack.Encoder) error {
	switch t := n.tok.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(t)
	case string:
		return enc.EncodeString(t)
	case json.Number:
		return encodeJSONNumber(enc, string(t))
	case json.Delim:
		if t == '[' {
			if err := enc.EncodeArrayLen(len(n.kids)); err != nil {
				return err
			}
			for _, k := range n.kids {
				if err := k.encode(enc); err != nil {
					return err
				}
			}
			return nil
		}
		if err := enc.EncodeMapLen(len(n.kids)); err != nil {
			return err
		}
		for i, k := range n.kids {
			if err := enc.EncodeString(n.keys[i]); err != nil {
				return err
			}
			if err := k.encode(enc); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected JSON token %v", n.tok)
}

// encodeJSONNumber writes a JSON number literal as the narrowest exact
// MessagePack number.
func encodeJSONNumber(enc *msgpack.Encoder, s string) error {
	integral := s != "-0"
	for i := 0; i < len(s) && integral; i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			integral = false
		}
	}
	if integral {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return enc.EncodeInt(i)
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return enc.EncodeUint(u)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return err
	}
	return enc.EncodeFloat64(f)
}

// msgpackToJSON converts one MessagePack value to JSON: bin becomes a
// base64 string (as .NET's JSON writes byte[]), a timestamp an RFC 3339
// string, another extension the base64 of its data, a non-string map key the
// JSON text of the key, NaN and infinities null.
func msgpackToJSON(raw []byte) (json.RawMessage, error) {
	if _, err := msgpackscan.Len(raw); err != nil {
		return nil, err
	}
	r := bytes.NewReader(raw)
	d := msgpack.NewDecoder(r)
	var out bytes.Buffer
	if err := walkMsgpack(d, &out, 0); err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, errors.New("trailing data after MessagePack value")
	}
	return out.Bytes(), nil
}

// walkMsgpack reads one value from d, writing it as JSON to out (or only
// skipping it when out is nil).
func walkMsgpack(d *msgpack.Decoder, out *bytes.Buffer, depth int) error {
	if depth > maxValueDepth {
		return errors.New("MessagePack value nested too deeply")
	}
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	put := func(b []byte) {
		if out != nil {
			out.Write(b)
		}
	}
	switch {
	case c == msgpcode.Nil:
		if err := d.DecodeNil(); err != nil {
			return err
		}
		put([]byte("null"))
	case c == msgpcode.False || c == msgpcode.True:
		v, err := d.DecodeBool()
		if err != nil {
			return err
		}
		put(strconv.AppendBool(nil, v))
	case c == msgpcode.Uint64:
		v, err := d.DecodeUint64()
		if err != nil {
			return err
		}
		put(strconv.AppendUint(nil, v, 10))
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Uint32) || (c >= msgpcode.Int8 && c <= msgpcode.Int64):
		v, err := d.DecodeInt64()
		if err != nil {
			return err
		}
		put(strconv.AppendInt(nil, v, 10))
	case c == msgpcode.Float || c == msgpcode.Double:
		v, err := d.DecodeFloat64()
		if err != nil {
			return err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			put([]byte("null"))
		} else {
			b, _ := json.Marshal(v)
			put(b)
		}
	case msgpcode.IsString(c):
		s, err := d.DecodeString()
		if err != nil {
			return err
		}
		put(appendJSONString(nil, s))
	case msgpcode.IsBin(c):
		b, err := d.DecodeBytes() // scanned: the length fits (msgpackscan)
		if err != nil {
			return err
		}
		put(appendJSONString(nil, base64.StdEncoding.EncodeToString(b)))
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return err
		}
		put([]byte{'['})
		for i := range n {
			if i > 0 {
				put([]byte{','})
			}
			if err := walkMsgpack(d, out, depth+1); err != nil {
				return err
			}
		}
		put([]byte{']'})
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return err
		}
		put([]byte{'{'})
		for i := range n {
			if i > 0 {
				put([]byte{','})
			}
			kc, err := d.PeekCode()
			if err != nil {
				return err
			}
			if msgpcode.IsString(kc) {
				if err := walkMsgpack(d, out, depth+1); err != nil {
					return err
				}
			} else {
				var key bytes.Buffer
				if err := walkMsgpack(d, &key, depth+1); err != nil {
					return err
				}
				put(appendJSONString(nil, key.String()))
			}
			put([]byte{':'})
			if err := walkMsgpack(d, out, depth+1); err != nil {
				return err
			}
		}
		put([]byte{'}'})
	case msgpcode.IsExt(c):
		id, n, err := d.DecodeExtHeader()
		if err != nil {
			return err
		}
		if n > readLimit {
			return errors.New("MessagePack extension too large")
		}
		data := make([]byte, n)
		if err := d.ReadFull(data); err != nil {
			return err
		}
		if id == -1 {
			t, err := decodeTimestamp(data)
			if err != nil {
				return err
			}
			put(appendJSONString(nil, t.UTC().Format(time.RFC3339Nano)))
		} else {
			put(appendJSONString(nil, base64.StdEncoding.EncodeToString(data)))
		}
	default:
		return fmt.Errorf("invalid MessagePack code 0x%02x", c)
	}
	return nil
}

// decodeTimestamp decodes the data of the timestamp extension (type -1).
func decodeTimestamp(b []byte) (time.Time, error) {
	switch len(b) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0), nil
	case 8:
		v := binary.BigEndian.Uint64(b)
		return time.Unix(int64(v&0x3ffffffff), int64(v>>34)), nil
	case 12:
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(binary.BigEndian.Uint32(b))), nil
	}
	return time.Time{}, fmt.Errorf("invalid MessagePack timestamp of %d bytes", len(b))
}

// appendJSONString appends s as a JSON string (no HTML escaping).
func appendJSONString(dst []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte{'\n'})...)
}

// msgpackMinLen is the fewest array elements each known message type has.
var msgpackMinLen = map[int]int{msgInvocation: 5, msgStreamItem: 4, msgCompletion: 4, msgStreamInvocation: 5,
	msgCancelInvocation: 3, msgPing: 1, msgClose: 2, msgAck: 2, msgSequence: 2}

// parseMsgpackMessage decodes one client record (without its prefix).
func parseMsgpackMessage(rec []byte) (clientMessage, error) {
	m := clientMessage{Protocol: protoMsgpack, Raw: rec}
	if _, err := msgpackscan.Len(rec); err != nil {
		return m, err // before the decoder trusts a length (see msgpackscan)
	}
	r := bytes.NewReader(rec)
	d := msgpack.NewDecoder(r)
	pos := func() int { return len(rec) - r.Len() }
	// rawValue reads one value and returns its bytes (aliasing rec).
	rawValue := func() ([]byte, error) {
		start := pos()
		if err := walkMsgpack(d, nil, 0); err != nil {
			return nil, err
		}
		return rec[start:pos()], nil
	}
	n, err := d.DecodeArrayLen()
	if err != nil || n < 1 {
		return m, errors.New("message is not a MessagePack array")
	}
	typ, err := d.DecodeInt64()
	if err != nil || typ < 0 || typ > math.MaxInt32 {
		return m, errors.New("message type is not an integer")
	}
	m.Type = int(typ)
	if min, ok := msgpackMinLen[m.Type]; ok && n < min {
		return m, fmt.Errorf("message of type %d has %d elements, fewer than %d", m.Type, n, min)
	}
	readHeaders := func() error {
		hn, err := d.DecodeMapLen()
		if err != nil {
			return errors.New("headers are not a map")
		}
		for range hn {
			k, err1 := d.DecodeString()
			v, err2 := d.DecodeString()
			if err1 != nil || err2 != nil {
				return errors.New("headers must map strings to strings")
			}
			if m.Headers == nil {
				m.Headers = map[string]string{}
			}
			m.Headers[k] = v
		}
		return nil
	}
	readID := func(required bool) error {
		c, err := d.PeekCode()
		if err != nil {
			return err
		}
		if c == msgpcode.Nil && !required {
			return d.DecodeNil()
		}
		if !msgpcode.IsString(c) {
			return errors.New("invocationId is not a string")
		}
		m.InvocationID, err = d.DecodeString()
		return err
	}
	consumed := 1
	switch m.Type {
	case msgInvocation, msgStreamInvocation:
		if err := readHeaders(); err != nil {
			return m, err
		}
		if err := readID(m.Type == msgStreamInvocation); err != nil {
			return m, err
		}
		if m.Target, err = d.DecodeString(); err != nil {
			return m, errors.New("target is not a string")
		}
		an, err := d.DecodeArrayLen()
		if err != nil || an < 0 {
			return m, errors.New("arguments are not an array")
		}
		for range an {
			a, err := rawValue()
			if err != nil {
				return m, err
			}
			m.Arguments = append(m.Arguments, a)
		}
		consumed = 5
		if n > 5 {
			sn, err := d.DecodeArrayLen()
			if err != nil {
				return m, errors.New("streamIds are not an array")
			}
			for range sn {
				s, err := d.DecodeString()
				if err != nil {
					return m, errors.New("streamIds must be strings")
				}
				m.StreamIDs = append(m.StreamIDs, s)
			}
			consumed = 6
		}
	case msgStreamItem:
		if err := readHeaders(); err != nil {
			return m, err
		}
		if err := readID(true); err != nil {
			return m, err
		}
		if m.Item, err = rawValue(); err != nil {
			return m, err
		}
		consumed = 4
	case msgCompletion:
		if err := readHeaders(); err != nil {
			return m, err
		}
		if err := readID(true); err != nil {
			return m, err
		}
		kind, err := d.DecodeInt64()
		if err != nil {
			return m, errors.New("completion result kind is not an integer")
		}
		consumed = 4
		switch kind {
		case 1:
			if n < 5 {
				return m, errors.New("error completion without its error")
			}
			if m.Error, err = d.DecodeString(); err != nil {
				return m, errors.New("completion error is not a string")
			}
			m.HasError = true
			consumed = 5
		case 2:
		case 3:
			if n < 5 {
				return m, errors.New("result completion without its result")
			}
			if m.Result, err = rawValue(); err != nil {
				return m, err
			}
			consumed = 5
		default:
			return m, fmt.Errorf("unknown completion result kind %d", kind)
		}
	case msgCancelInvocation:
		if err := readHeaders(); err != nil {
			return m, err
		}
		if err := readID(true); err != nil {
			return m, err
		}
		consumed = 3
	case msgClose:
		c, err := d.PeekCode()
		if err != nil {
			return m, err
		}
		if c == msgpcode.Nil {
			_ = d.DecodeNil()
		} else if m.Error, err = d.DecodeString(); err != nil {
			return m, errors.New("close error is not a string")
		}
		consumed = 2
		if n > 2 {
			if m.AllowReconnect, err = d.DecodeBool(); err != nil {
				return m, errors.New("allowReconnect is not a boolean")
			}
			consumed = 3
		}
	case msgAck, msgSequence:
		if m.SequenceID, err = d.DecodeInt64(); err != nil {
			return m, errors.New("sequenceId is not an integer")
		}
		consumed = 2
	}
	// Later elements are ignored, as the spec allows for additions.
	for range n - consumed {
		if err := walkMsgpack(d, nil, 0); err != nil {
			return m, err
		}
	}
	if r.Len() != 0 {
		return m, errors.New("trailing bytes after the message")
	}
	return m, nil
}
