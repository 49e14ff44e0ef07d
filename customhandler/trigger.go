package customhandler

import (
	"bytes"
	"encoding/json"
	"sort"
)

// InvocationContext is the value of Data.<binding name> for a signalRTrigger
// binding: the upstream call the Functions host received at
// /runtime/webhooks/signalr and validated, as the SignalR extension hands it
// to the function (Azure/azure-sdk-for-net sdk/signalr, SignalRTriggerUtils.cs
// and SignalRInvocationMethodExecutor.cs build it; keys are PascalCase). The
// host may send it as an object or JSON-encoded in a string; both decode.
type InvocationContext struct {
	// Arguments are the invocation's arguments as JSON values (the
	// messages category).
	Arguments []json.RawMessage
	// Error is the reason of a disconnected event.
	Error string
	// Category is "connections" or "messages".
	Category string
	// Event is "connected", "disconnected" or the invocation's target.
	Event        string
	Hub          string
	ConnectionID string
	UserID       string
	Headers      map[string]string
	Query        map[string]string
	Claims       map[string]string
}

// SignalRTrigger decodes the InvocationContext of the signalRTrigger
// binding name (matched case-insensitively). With name "" it takes the one
// Data entry that is an InvocationContext (an object with ConnectionId,
// Hub, Category and Event), so a handler need not know each function's
// binding name. A *[DecodeError] names the JSON path at fault.
func (in *InvocationRequest) SignalRTrigger(name string) (*InvocationContext, error) {
	if name != "" {
		raw, key, ok := lookup(in.Data, name)
		if !ok {
			return nil, &DecodeError{Path: "Data." + pathKey(name), Reason: "is missing (check the signalRTrigger binding name in function.json)"}
		}
		return decodeInvocationContext(raw, "Data."+pathKey(key))
	}
	keys := make([]string, 0, len(in.Data))
	for k := range in.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c, err := decodeInvocationContext(in.Data[k], "Data."+pathKey(k)); err == nil {
			return c, nil
		}
	}
	return nil, &DecodeError{Path: "Data", Reason: "holds no SignalR InvocationContext (an object with ConnectionId, Hub, Category and Event)"}
}

func decodeInvocationContext(raw json.RawMessage, path string) (*InvocationContext, error) {
	obj, err := decodeObject(raw, path)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, &DecodeError{Path: path, Reason: "must be a JSON object, got null"}
	}
	c := &InvocationContext{}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"Category", &c.Category}, {"Event", &c.Event}, {"Hub", &c.Hub}, {"ConnectionId", &c.ConnectionID}, {"UserId", &c.UserID}, {"Error", &c.Error}} {
		if *f.dst, err = stringField(obj, f.name, path); err != nil {
			return nil, err
		}
	}
	for _, req := range []struct{ name, val string }{{"ConnectionId", c.ConnectionID}, {"Hub", c.Hub}, {"Category", c.Category}, {"Event", c.Event}} {
		if req.val == "" {
			return nil, &DecodeError{Path: path + "." + req.name, Reason: "is missing: this is not a SignalR InvocationContext"}
		}
	}
	if c.Headers, err = stringMapField(obj, "Headers", path); err != nil {
		return nil, err
	}
	if c.Query, err = stringMapField(obj, "Query", path); err != nil {
		return nil, err
	}
	if c.Claims, err = stringMapField(obj, "Claims", path); err != nil {
		return nil, err
	}
	if raw, key, ok := lookup(obj, "Arguments"); ok {
		p := path + "." + pathKey(key)
		raw = unwrap(raw, "[")
		switch kind(raw) {
		case "null":
		case "array":
			if err := json.Unmarshal(raw, &c.Arguments); err != nil {
				return nil, syntaxErr(p, err)
			}
			for i, a := range c.Arguments {
				c.Arguments[i] = bytes.TrimSpace(a)
			}
		default:
			return nil, &DecodeError{Path: p, Reason: "must be an array, got " + kind(raw)}
		}
	}
	return c, nil
}
