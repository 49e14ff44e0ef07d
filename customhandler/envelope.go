package customhandler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBodyBytes is the largest invocation envelope [Handler] reads when
// [Options.MaxBodyBytes] is zero, and the limit [DecodeInvocation] applies
// when it is given a limit of zero or less.
const DefaultMaxBodyBytes int64 = 4 << 20

// InvocationRequest is the JSON envelope the Functions host POSTs to
// /<FunctionName> when it does not forward the HTTP request as is: one entry
// in Data per trigger and input binding, and the trigger's binding data in
// Metadata. Values are kept raw; [InvocationRequest.HTTPTrigger] decodes an
// httpTrigger value tolerantly.
type InvocationRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// HTTPTrigger is the value of Data.<trigger name> for an httpTrigger binding:
// the caller's request as the host serialized it.
type HTTPTrigger struct {
	// URL is scheme://host + path + raw query of the original request.
	URL string `json:"Url"`
	// Method is the original request method; it is required.
	Method string `json:"Method"`
	// Query holds the parsed query; repeated keys arrive comma-joined.
	Query map[string]string `json:"Query"`
	// Headers holds the original headers with their names as received.
	Headers map[string][]string `json:"Headers"`
	// Params holds the route values of the function's route template.
	Params map[string]string `json:"Params"`
	// Identities holds the serialized .NET ClaimsIdentity list, undecoded.
	Identities []json.RawMessage `json:"Identities"`
	// Body is the raw request body; empty when the host sent none.
	Body string `json:"Body"`
}

// InvocationResponse is the JSON document the handler answers the host with
// (always with status 200 and Content-Type application/json): one entry in
// Outputs per output binding, per-invocation log lines and the value of a
// $return binding.
type InvocationResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// HTTPOutput is the value of Outputs.<http output name>: the response the
// host sends to the HTTP caller. Body is a pre-serialized string because the
// host mangles object and array bodies (Azure/azure-functions-host#6575).
type HTTPOutput struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// ErrBodyTooLarge is the cause of the [DecodeError] returned when an
// invocation envelope is larger than the limit given to [DecodeInvocation].
var ErrBodyTooLarge = errors.New("customhandler: invocation body too large")

// DecodeError reports where and why an invocation envelope could not be
// decoded. Its message names the JSON path (for example
// "customhandler: Data.req.Headers.Authorization: ...") and the kind of value
// found, never the value itself: header and query values can carry tokens
// and function keys.
type DecodeError struct {
	// Path is the JSON path of the offending value, such as "Data.req.Method".
	Path string
	// Reason says what is wrong with it.
	Reason string
	// Err is the underlying cause, if any ([ErrBodyTooLarge], an I/O error or
	// a *json.SyntaxError); it is not part of the message.
	Err error
}

// Error implements the error interface.
func (e *DecodeError) Error() string { return "customhandler: " + e.Path + ": " + e.Reason }

// Unwrap returns the underlying cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// DecodeInvocation reads one invocation envelope of at most limit bytes
// (limit <= 0 means [DefaultMaxBodyBytes]) from r. Keys are matched
// case-insensitively ("Data" or "data"), and an envelope or a Data/Metadata
// object that arrives as a JSON string containing an object is unwrapped
// once. A missing or null Data or Metadata yields an empty map. Errors are
// *[DecodeError]; an envelope over the limit has [ErrBodyTooLarge] as cause.
func DecodeInvocation(r io.Reader, limit int64) (*InvocationRequest, error) {
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, &DecodeError{Path: "body", Reason: "cannot be read", Err: err}
	}
	if int64(len(b)) > limit {
		return nil, &DecodeError{Path: "body", Reason: "is larger than " + strconv.FormatInt(limit, 10) + " bytes", Err: ErrBodyTooLarge}
	}
	top, err := decodeObject(b, "envelope")
	if err != nil {
		return nil, err
	}
	if top == nil {
		return nil, &DecodeError{Path: "envelope", Reason: "must be a JSON object, got null"}
	}
	in := &InvocationRequest{}
	for _, f := range []struct {
		name string
		dst  *map[string]json.RawMessage
	}{{"Data", &in.Data}, {"Metadata", &in.Metadata}} {
		raw, _, ok := lookup(top, f.name)
		var m map[string]json.RawMessage
		if ok {
			if m, err = decodeObject(raw, f.name); err != nil {
				return nil, err
			}
		}
		if m == nil {
			m = map[string]json.RawMessage{}
		}
		*f.dst = m
	}
	return in, nil
}

// HTTPTrigger decodes Data.<name> (name matched case-insensitively) as an
// httpTrigger value. It accepts the value as an object or as a JSON string
// containing one; Url and Method may themselves be double-encoded strings;
// Query and Params may be objects or strings containing objects, with
// non-string scalar values stringified; a header's value may be a string, an
// array of strings, or a string containing such an array; Body may be a
// string or any other JSON value, whose JSON text is then used. Method is
// required.
func (in *InvocationRequest) HTTPTrigger(name string) (*HTTPTrigger, error) {
	raw, key, ok := lookup(in.Data, name)
	path := "Data." + pathKey(name)
	if !ok {
		return nil, &DecodeError{Path: path, Reason: "is missing (check the httpTrigger binding name in function.json)"}
	}
	path = "Data." + pathKey(key)
	obj, err := decodeObject(raw, path)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, &DecodeError{Path: path, Reason: "must be a JSON object, got null"}
	}
	t := &HTTPTrigger{}
	if t.URL, err = stringField(obj, "Url", path); err != nil {
		return nil, err
	}
	if t.Method, err = stringField(obj, "Method", path); err != nil {
		return nil, err
	}
	if t.Method == "" {
		return nil, &DecodeError{Path: path + ".Method", Reason: "is missing"}
	}
	if t.Query, err = stringMapField(obj, "Query", path); err != nil {
		return nil, err
	}
	if t.Params, err = stringMapField(obj, "Params", path); err != nil {
		return nil, err
	}
	if t.Headers, err = headersField(obj, path); err != nil {
		return nil, err
	}
	if t.Identities, err = identitiesField(obj, path); err != nil {
		return nil, err
	}
	if raw, _, ok := lookup(obj, "Body"); ok {
		raw = bytes.TrimSpace(raw)
		switch kind(raw) {
		case "string":
			if err := json.Unmarshal(raw, &t.Body); err != nil {
				return nil, syntaxErr(path+".Body", err)
			}
		case "null":
		default:
			t.Body = string(raw)
		}
	}
	return t, nil
}

// lookup returns the value of key in m, matched exactly or else
// case-insensitively; among several case-insensitive matches the
// lexicographically smallest key wins, so the choice is deterministic.
func lookup(m map[string]json.RawMessage, key string) (json.RawMessage, string, bool) {
	if v, ok := m[key]; ok {
		return v, key, true
	}
	found := ""
	ok := false
	for k := range m {
		if strings.EqualFold(k, key) && (!ok || k < found) {
			found, ok = k, true
		}
	}
	if !ok {
		return nil, "", false
	}
	return m[found], found, true
}

// kind names the JSON type of raw by its first byte; raw must be trimmed.
func kind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// unwrap returns the JSON text inside raw when raw is a JSON string whose
// content is valid JSON starting with one of the bytes in starts (a
// double-encoded value); otherwise it returns raw trimmed. It unwraps once.
func unwrap(raw []byte, starts string) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return raw
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return raw
	}
	inner := bytes.TrimSpace([]byte(s))
	if len(inner) == 0 || !bytes.ContainsRune([]byte(starts), rune(inner[0])) || !json.Valid(inner) {
		return raw
	}
	return inner
}

// decodeObject decodes raw (or the object double-encoded in it) as a JSON
// object. It returns nil, nil for null.
func decodeObject(raw []byte, path string) (map[string]json.RawMessage, error) {
	raw = unwrap(raw, "{")
	switch k := kind(raw); k {
	case "null":
		if string(raw) == "null" {
			return nil, nil
		}
		return nil, &DecodeError{Path: path, Reason: "is not valid JSON"}
	case "object":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, syntaxErr(path, err)
		}
		return m, nil
	default:
		if k == "nothing" {
			return nil, &DecodeError{Path: path, Reason: "is empty"}
		}
		if !json.Valid(raw) {
			return nil, &DecodeError{Path: path, Reason: "is not valid JSON"}
		}
		return nil, &DecodeError{Path: path, Reason: "must be a JSON object, got " + k}
	}
}

// syntaxErr turns a JSON error into a DecodeError that names the offset of a
// syntax error but never the offending text.
func syntaxErr(path string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &DecodeError{Path: path, Reason: "is not valid JSON (offset " + strconv.FormatInt(se.Offset, 10) + ")", Err: err}
	}
	return &DecodeError{Path: path, Reason: "is not valid JSON", Err: err}
}

// pathKey renders a map key for an error path: plain keys as they are,
// others quoted, and long ones truncated.
func pathKey(k string) string {
	const max = 64
	if len(k) > max {
		k = k[:max]
		for len(k) > 0 && !utf8.ValidString(k) {
			k = k[:len(k)-1]
		}
		k += "..."
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return strconv.Quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

// stringField decodes obj.<name> as a string, unwrapping a double-encoded
// string once. Missing and null yield "".
func stringField(obj map[string]json.RawMessage, name, path string) (string, error) {
	raw, key, ok := lookup(obj, name)
	if !ok {
		return "", nil
	}
	p := path + "." + pathKey(key)
	raw = unwrap(raw, `"`)
	switch k := kind(raw); k {
	case "null":
		return "", nil
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", syntaxErr(p, err)
		}
		return s, nil
	default:
		return "", &DecodeError{Path: p, Reason: "must be a string, got " + k}
	}
}

// scalarString stringifies a query or route value: strings (unwrapped once
// if double-encoded), numbers and booleans as their JSON text, null as "",
// and arrays of those comma-joined as the host joins repeated keys.
func scalarString(raw []byte, p string, allowArray bool) (string, error) {
	raw = unwrap(raw, `"`)
	switch k := kind(raw); k {
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", syntaxErr(p, err)
		}
		return s, nil
	case "number", "boolean":
		return string(raw), nil
	case "null":
		return "", nil
	case "array":
		if !allowArray {
			return "", &DecodeError{Path: p, Reason: "must be a string, got array"}
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", syntaxErr(p, err)
		}
		var b []byte
		for i, it := range items {
			s, err := scalarString(it, p+"["+strconv.Itoa(i)+"]", false)
			if err != nil {
				return "", err
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, s...)
		}
		return string(b), nil
	default:
		return "", &DecodeError{Path: p, Reason: "must be a string, got " + k}
	}
}

// stringMapField decodes obj.<name> (Query or Params) as a string map.
func stringMapField(obj map[string]json.RawMessage, name, path string) (map[string]string, error) {
	raw, key, ok := lookup(obj, name)
	if !ok {
		return nil, nil
	}
	p := path + "." + pathKey(key)
	m, err := decodeObject(raw, p)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, err := scalarString(v, p+"."+pathKey(k), true)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

// headersField decodes obj.Headers: an object (or a string containing one)
// whose values are strings or arrays of strings.
func headersField(obj map[string]json.RawMessage, path string) (map[string][]string, error) {
	raw, key, ok := lookup(obj, "Headers")
	if !ok {
		return nil, nil
	}
	p := path + "." + pathKey(key)
	m, err := decodeObject(raw, p)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		vals, err := headerValues(v, p+"."+pathKey(k))
		if err != nil {
			return nil, err
		}
		if vals != nil {
			out[k] = vals
		}
	}
	return out, nil
}

// headerValues decodes one header's value. A string whose content is a JSON
// array of strings or a JSON string is unwrapped; any other string is the
// value itself (header values may legitimately look like JSON).
func headerValues(raw []byte, p string) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	switch k := kind(raw); k {
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, syntaxErr(p, err)
		}
		inner := bytes.TrimSpace([]byte(s))
		if len(inner) > 0 && inner[0] == '[' {
			var vals []string
			if json.Unmarshal(inner, &vals) == nil {
				return vals, nil
			}
		}
		if len(inner) > 0 && inner[0] == '"' {
			var v string
			if json.Unmarshal(inner, &v) == nil {
				return []string{v}, nil
			}
		}
		return []string{s}, nil
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, syntaxErr(p, err)
		}
		vals := make([]string, 0, len(items))
		for i, it := range items {
			it = bytes.TrimSpace(it)
			switch ik := kind(it); ik {
			case "string":
				var s string
				if err := json.Unmarshal(it, &s); err != nil {
					return nil, syntaxErr(p, err)
				}
				vals = append(vals, s)
			case "number", "boolean":
				vals = append(vals, string(it))
			case "null":
			default:
				return nil, &DecodeError{Path: p + "[" + strconv.Itoa(i) + "]", Reason: "must be a string, got " + ik}
			}
		}
		return vals, nil
	case "number", "boolean":
		return []string{string(raw)}, nil
	case "null":
		return nil, nil
	default:
		return nil, &DecodeError{Path: p, Reason: "must be a string or an array of strings, got " + k}
	}
}

// identitiesField decodes obj.Identities: an array (or a string containing
// one) whose items are kept raw.
func identitiesField(obj map[string]json.RawMessage, path string) ([]json.RawMessage, error) {
	raw, key, ok := lookup(obj, "Identities")
	if !ok {
		return nil, nil
	}
	p := path + "." + pathKey(key)
	raw = unwrap(raw, "[")
	switch k := kind(raw); k {
	case "null":
		return nil, nil
	case "array":
		var ids []json.RawMessage
		if err := json.Unmarshal(raw, &ids); err != nil {
			return nil, syntaxErr(p, err)
		}
		return ids, nil
	default:
		return nil, &DecodeError{Path: p, Reason: fmt.Sprintf("must be an array, got %s", k)}
	}
}
