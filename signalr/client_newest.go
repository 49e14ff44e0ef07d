package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/serverless-signalr/functions-go/signalr/filter"
)

// The newest data-plane operations (Azure/azure-signalr docs/swagger/
// V20230701.json and v20241201.json): commands by filter, client results,
// server-to-client streams and the group member listing. Each call carries
// the api-version that introduced it; a service (region, tier) without it
// answers 404.
const (
	// APIVersion20230701 introduced POST /api/hubs/{hub}/:execute.
	APIVersion20230701 = "2023-07-01"
	// APIVersion20241201 introduced :invoke, streams and the group listing.
	APIVersion20241201 = "2024-12-01"
)

// Argument names of the newest operations, for [ArgumentError].
const (
	ArgApplication = "application"
	ArgFilter      = "filter"
	ArgCommands    = "commands"
	ArgStreamID    = "streamID"
	ArgItem        = "item"
	ArgPageSize    = "maxPageSize"
	ArgTop         = "top"
)

// appArg validates a per-call application name ("" keeps the client's).
func appArg(app string) (string, error) {
	if app == "" {
		return "", nil
	}
	if err := ValidateHubName(app); err != nil {
		return "", &ArgumentError{Name: ArgApplication, Reason: "is not a valid application name", Err: err}
	}
	return app, nil
}

// CommandType is the type of a [Command].
type CommandType string

// The command types of :execute.
const (
	CommandSendMessage     CommandType = "SendMessage"
	CommandJoinGroup       CommandType = "JoinGroup"
	CommandLeaveGroup      CommandType = "LeaveGroup"
	CommandCloseConnection CommandType = "CloseConnection"
)

// Command is one SignalRCommand of [Client.Execute]. Build it with
// [SendMessageCommand], [JoinGroupCommand], [LeaveGroupCommand] or
// [CloseConnectionCommand].
type Command struct {
	Type    CommandType
	Message Message // CommandSendMessage
	Group   string  // CommandJoinGroup, CommandLeaveGroup
	Reason  string  // CommandCloseConnection
}

// SendMessageCommand sends msg to the selected connections.
func SendMessageCommand(msg Message) Command { return Command{Type: CommandSendMessage, Message: msg} }

// JoinGroupCommand adds the selected connections to group.
func JoinGroupCommand(group string) Command { return Command{Type: CommandJoinGroup, Group: group} }

// LeaveGroupCommand removes the selected connections from group.
func LeaveGroupCommand(group string) Command { return Command{Type: CommandLeaveGroup, Group: group} }

// CloseConnectionCommand closes the selected connections with reason.
func CloseConnectionCommand(reason string) Command {
	return Command{Type: CommandCloseConnection, Reason: reason}
}

// commandsBody encodes the commands as the swagger's SignalRCommand
// subtypes: {"type":"SendMessage","message":{…}}, {"type":"JoinGroup",
// "group":…}, {"type":"CloseConnection","reason":…}.
func commandsBody(cmds []Command) (body []byte, sends bool, err error) {
	if len(cmds) == 0 {
		return nil, false, &ArgumentError{Name: ArgCommands, Reason: "must not be empty"}
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range cmds {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"` + string(c.Type) + `"`)
		switch c.Type {
		case CommandSendMessage:
			m, err := c.Message.body()
			if err != nil {
				return nil, false, err
			}
			sends = true
			b.WriteString(`,"message":`)
			b.Write(m)
		case CommandJoinGroup, CommandLeaveGroup:
			if err := ValidateGroupName(c.Group); err != nil {
				return nil, false, &ArgumentError{Name: ArgGroup, Reason: "is not a valid group name", Err: err}
			}
			g, _ := json.Marshal(c.Group)
			b.WriteString(`,"group":`)
			b.Write(g)
		case CommandCloseConnection:
			if c.Reason != "" {
				r, _ := json.Marshal(c.Reason)
				b.WriteString(`,"reason":`)
				b.Write(r)
			}
		default:
			return nil, false, &ArgumentError{Name: ArgCommands, Reason: "command " + strconv.Itoa(i) + " has the unknown type " + strconv.Quote(string(c.Type))}
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	if b.Len() > MaxPayloadSize {
		return nil, false, &PayloadTooLargeError{Size: b.Len(), Limit: MaxPayloadSize}
	}
	return []byte(b.String()), sends, nil
}

// ExecuteOptions are the optional parameters of [Client.Execute].
type ExecuteOptions struct {
	// Filter selects the connections (OData, see package
	// [github.com/serverless-signalr/functions-go/signalr/filter]); empty
	// means every connection of the hub. It is parsed before anything is
	// sent: a bad filter is an *[ArgumentError] wrapping a
	// *filter.SyntaxError.
	Filter string
	// Application overrides ClientOptions.Application for this call.
	Application string
}

// ExecuteResponse is the result of [Client.Execute].
type ExecuteResponse struct{}

// Execute runs commands, in order, on the connections of hub that
// opts.Filter selects: POST /api/hubs/{hub}/:execute?filter=… (api-version
// 2023-07-01), answered 202. A list with a SendMessage is a send for the
// retry rule (never retried once it may have been acted on).
func (c *Client) Execute(ctx context.Context, hub string, commands []Command, opts *ExecuteOptions) (ExecuteResponse, error) {
	var o ExecuteOptions
	if opts != nil {
		o = *opts
	}
	p, err := path().hub(hub).lit("/:execute").done()
	if err != nil {
		return ExecuteResponse{}, err
	}
	app, err := appArg(o.Application)
	if err != nil {
		return ExecuteResponse{}, err
	}
	q := url.Values{}
	if strings.TrimSpace(o.Filter) != "" {
		if _, err := filter.Parse(o.Filter); err != nil {
			return ExecuteResponse{}, &ArgumentError{Name: ArgFilter, Reason: "is not a valid filter", Err: err}
		}
		q.Set("filter", o.Filter)
	}
	body, sends, err := commandsBody(commands)
	if err != nil {
		return ExecuteResponse{}, err
	}
	_, err = c.do(ctx, call{op: "Execute", method: http.MethodPost, path: p, apiVersion: APIVersion20230701,
		query: q, body: body, send: sends, ok: statusAccepted, app: app})
	return ExecuteResponse{}, err
}

// InvokeOptions are the optional parameters of [Client.Invoke].
type InvokeOptions struct {
	// Timeout bounds the wait for the client's answer (the request's
	// per-try timeout); default the client's Retry.TryTimeout. The service
	// applies its own bound as well.
	Timeout time.Duration
	// Application overrides ClientOptions.Application for this call.
	Application string
}

// InvokeResponse is the swagger's ClientInvocationResponse.
type InvokeResponse struct {
	// Result is the client's return value as JSON; nil when the client's
	// handler returned nothing.
	Result json.RawMessage `json:"result"`
	// Protocol is the client's protocol, when neither json nor messagepack.
	Protocol string `json:"protocol,omitempty"`
}

// Invoke calls msg.Target on one client connection and returns what the
// client's handler returns ("client results"): POST
// /api/hubs/{hub}/connections/{id}/:invoke (api-version 2024-12-01). It is
// retried only as a send is: never once the client may have been called. A client that throws, disconnects or does not answer in
// time comes back as a *[ResponseError] with the service's status.
func (c *Client) Invoke(ctx context.Context, hub, connectionID string, msg Message, opts *InvokeOptions) (InvokeResponse, error) {
	var o InvokeOptions
	if opts != nil {
		o = *opts
	}
	p, err := path().hub(hub).conn(connectionID).lit("/:invoke").done()
	if err != nil {
		return InvokeResponse{}, err
	}
	app, err := appArg(o.Application)
	if err != nil {
		return InvokeResponse{}, err
	}
	body, err := msg.body()
	if err != nil {
		return InvokeResponse{}, err
	}
	resp, err := c.do(ctx, call{op: "Invoke", method: http.MethodPost, path: p, apiVersion: APIVersion20241201,
		body: body, send: true, ok: statusOK, app: app, timeout: o.Timeout})
	if err != nil {
		return InvokeResponse{}, err
	}
	var r InvokeResponse
	if err := runtime.UnmarshalAsJSON(resp, &r); err != nil {
		return InvokeResponse{}, c.badBody("Invoke", err)
	}
	if string(r.Result) == "null" {
		r.Result = nil
	}
	return r, nil
}

// badBody is a 2xx answer whose body is not what the swagger says.
func (c *Client) badBody(op string, err error) error {
	return &ConnectionError{Kind: ConnectionFailed, Endpoint: c.serverBase, Operation: op, Written: true, send: true, Err: errors.New("the service's answer is not the documented JSON: " + err.Error())}
}

// streamPath checks streamID (1 to 100 characters, not only whitespace).
func streamPath(hub, connectionID, streamID, action string) (string, error) {
	if streamID == "" || len(streamID) > 100 || strings.TrimSpace(streamID) == "" {
		return "", &ArgumentError{Name: ArgStreamID, Reason: "must be 1 to 100 characters, not only whitespace"}
	}
	return path().hub(hub).conn(connectionID).lit("/streams/" + escapeDataString(streamID) + action).done()
}

// SendToConnectionStreamOptions are the optional parameters of
// [Client.SendToConnectionStream].
type SendToConnectionStreamOptions struct {
	// Completed marks item as the last one: the stream completes after it.
	Completed bool
	// Application overrides ClientOptions.Application for this call.
	Application string
}

// SendToConnectionStreamResponse is the result of [Client.SendToConnectionStream].
type SendToConnectionStreamResponse struct{}

// SendToConnectionStream sends item (one JSON value) on the stream
// streamID of a connection: POST …/connections/{id}/streams/{streamId}/:send
// (api-version 2024-12-01), answered 202.
func (c *Client) SendToConnectionStream(ctx context.Context, hub, connectionID, streamID string, item json.RawMessage, opts *SendToConnectionStreamOptions) (SendToConnectionStreamResponse, error) {
	var o SendToConnectionStreamOptions
	if opts != nil {
		o = *opts
	}
	p, err := streamPath(hub, connectionID, streamID, "/:send")
	if err != nil {
		return SendToConnectionStreamResponse{}, err
	}
	app, err := appArg(o.Application)
	if err != nil {
		return SendToConnectionStreamResponse{}, err
	}
	if len(item) == 0 || !json.Valid(item) {
		return SendToConnectionStreamResponse{}, &ArgumentError{Name: ArgItem, Reason: "must be one JSON value"}
	}
	if len(item) > MaxPayloadSize {
		return SendToConnectionStreamResponse{}, &PayloadTooLargeError{Size: len(item), Limit: MaxPayloadSize}
	}
	var q url.Values
	if o.Completed {
		q = url.Values{"completed": {"true"}}
	}
	_, err = c.do(ctx, call{op: "SendToConnectionStream", method: http.MethodPost, path: p, apiVersion: APIVersion20241201,
		query: q, body: item, send: true, ok: statusAccepted, app: app})
	return SendToConnectionStreamResponse{}, err
}

// CompleteConnectionStreamOptions are the optional parameters of
// [Client.CompleteConnectionStream].
type CompleteConnectionStreamOptions struct {
	// Reason, when set, completes the stream with this error.
	Reason string
	// Application overrides ClientOptions.Application for this call.
	Application string
}

// CompleteConnectionStreamResponse is the result of [Client.CompleteConnectionStream].
type CompleteConnectionStreamResponse struct{}

// CompleteConnectionStream ends the stream streamID of a connection: POST
// …/connections/{id}/streams/{streamId}/:complete?reason= (api-version
// 2024-12-01), answered 202.
func (c *Client) CompleteConnectionStream(ctx context.Context, hub, connectionID, streamID string, opts *CompleteConnectionStreamOptions) (CompleteConnectionStreamResponse, error) {
	var o CompleteConnectionStreamOptions
	if opts != nil {
		o = *opts
	}
	p, err := streamPath(hub, connectionID, streamID, "/:complete")
	if err != nil {
		return CompleteConnectionStreamResponse{}, err
	}
	app, err := appArg(o.Application)
	if err != nil {
		return CompleteConnectionStreamResponse{}, err
	}
	var q url.Values
	if o.Reason != "" {
		q = url.Values{"reason": {o.Reason}}
	}
	_, err = c.do(ctx, call{op: "CompleteConnectionStream", method: http.MethodPost, path: p, apiVersion: APIVersion20241201,
		query: q, send: true, ok: statusAccepted, app: app})
	return CompleteConnectionStreamResponse{}, err
}
