package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/serverless-signalr/functions-go/internal/textutil"
)

// Message is one hub method invocation sent to clients: the service calls
// the client handler registered for Target with Arguments.
type Message struct {
	// Target is the client-side method name; required.
	Target string
	// Arguments is the JSON array of arguments, forwarded as is; nil or
	// empty means no arguments.
	Arguments json.RawMessage

	// binary is the body of a message built by NewBinaryMessage (payload.go).
	binary []byte
}

// NewMessage encodes args as the arguments of a message to target.
func NewMessage(target string, args ...any) (Message, error) {
	if args == nil {
		args = []any{}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return Message{}, &ArgumentError{Name: ArgArguments, Reason: "cannot be encoded as JSON", Err: err}
	}
	return Message{Target: target, Arguments: raw}, nil
}

// body encodes {"target":…,"arguments":[…]} and enforces MaxPayloadSize.
func (m Message) body() ([]byte, error) {
	if m.binary != nil {
		return m.binaryBody()
	}
	if strings.TrimSpace(m.Target) == "" {
		return nil, &ArgumentError{Name: ArgTarget, Reason: "must not be empty"}
	}
	args := bytes.TrimSpace(m.Arguments)
	if len(args) == 0 || string(args) == "null" {
		args = []byte("[]")
	}
	if args[0] != '[' || !json.Valid(args) {
		return nil, &ArgumentError{Name: ArgArguments, Reason: "must be a JSON array"}
	}
	b := make([]byte, 0, len(m.Target)+len(args)+26)
	b = append(b, `{"target":`...)
	b = textutil.AppendJSONString(b, m.Target, true) // as json.Marshal quotes it
	b = append(b, `,"arguments":`...)
	b = append(b, args...)
	b = append(b, '}')
	if len(b) > MaxPayloadSize {
		return nil, &PayloadTooLargeError{Size: len(b), Limit: MaxPayloadSize}
	}
	return b, nil
}

// hubPath validates hub and returns "hubs/{lower-cased, escaped hub}".
func hubPath(hub string) (string, error) {
	if err := ValidateHubName(hub); err != nil {
		return "", &ArgumentError{Name: ArgHub, Reason: "is not a valid hub name", Err: err}
	}
	return "hubs/" + escapeDataString(strings.ToLower(hub)), nil
}

func groupSeg(group string) (string, error) {
	if err := ValidateGroupName(group); err != nil {
		return "", &ArgumentError{Name: ArgGroup, Reason: "is not a valid group name", Err: err}
	}
	return escapeDataString(group), nil
}

func idSeg(name, id string) (string, error) {
	if id == "" {
		return "", &ArgumentError{Name: name, Reason: "must not be empty"}
	}
	return escapeDataString(id), nil
}

// segs builds "hubs/{hub}/…" from alternating literal parts and checked
// segments, stopping at the first argument error.
type pathBuilder struct {
	b   strings.Builder
	err error
}

func (p *pathBuilder) hub(hub string) *pathBuilder {
	s, err := hubPath(hub)
	p.add(s, err)
	return p
}

func (p *pathBuilder) group(g string) *pathBuilder {
	s, err := groupSeg(g)
	p.add("/groups/"+s, err)
	return p
}

func (p *pathBuilder) user(id string) *pathBuilder {
	s, err := idSeg(ArgUserID, id)
	p.add("/users/"+s, err)
	return p
}

func (p *pathBuilder) conn(id string) *pathBuilder {
	s, err := idSeg(ArgConnectionID, id)
	p.add("/connections/"+s, err)
	return p
}

func (p *pathBuilder) lit(s string) *pathBuilder {
	p.add(s, nil)
	return p
}

func (p *pathBuilder) add(s string, err error) {
	if p.err != nil {
		return
	}
	if err != nil {
		p.err = err
		return
	}
	p.b.WriteString(s)
}

func (p *pathBuilder) done() (string, error) { return p.b.String(), p.err }

func path() *pathBuilder { return &pathBuilder{} }

func excludedQuery(excluded []string, reason string) url.Values {
	if len(excluded) == 0 && reason == "" {
		return nil
	}
	q := url.Values{}
	for _, id := range excluded {
		q.Add("excluded", id)
	}
	if reason != "" {
		q.Set("reason", reason)
	}
	return q
}

var (
	statusAccepted = []int{http.StatusAccepted}
	statusOK       = []int{http.StatusOK}
	statusDone     = []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent}
)

func (c *Client) send(ctx context.Context, op, p string, perr error, msg Message, q url.Values) error {
	if perr != nil {
		return perr
	}
	body, err := msg.body()
	if err != nil {
		return err
	}
	_, err = c.do(ctx, call{op: op, method: http.MethodPost, path: p + "/:send", apiVersion: APIVersion,
		query: q, body: body, contentType: msg.contentType(), send: true, ok: statusAccepted})
	return err
}

// SendToAllOptions are the optional parameters of [Client.SendToAll].
type SendToAllOptions struct {
	// Excluded lists connection ids that must not receive the message.
	Excluded []string
}

// SendToAllResponse is the result of [Client.SendToAll].
type SendToAllResponse struct{}

// SendToAll broadcasts msg to every connection of hub
// (POST /api/hubs/{hub}/:send). A send is never retried once the service
// may have acted on it (see [RetryOptions]).
func (c *Client) SendToAll(ctx context.Context, hub string, msg Message, opts *SendToAllOptions) (SendToAllResponse, error) {
	var ex []string
	if opts != nil {
		ex = opts.Excluded
	}
	p, err := path().hub(hub).done()
	return SendToAllResponse{}, c.send(ctx, "SendToAll", p, err, msg, excludedQuery(ex, ""))
}

// SendToUserOptions are the optional parameters of [Client.SendToUser].
type SendToUserOptions struct{}

// SendToUserResponse is the result of [Client.SendToUser].
type SendToUserResponse struct{}

// SendToUser sends msg to every connection of userID
// (POST /api/hubs/{hub}/users/{user}/:send).
func (c *Client) SendToUser(ctx context.Context, hub, userID string, msg Message, opts *SendToUserOptions) (SendToUserResponse, error) {
	p, err := path().hub(hub).user(userID).done()
	return SendToUserResponse{}, c.send(ctx, "SendToUser", p, err, msg, nil)
}

// SendToConnectionOptions are the optional parameters of
// [Client.SendToConnection].
type SendToConnectionOptions struct{}

// SendToConnectionResponse is the result of [Client.SendToConnection].
type SendToConnectionResponse struct{}

// SendToConnection sends msg to one connection
// (POST /api/hubs/{hub}/connections/{connectionId}/:send).
func (c *Client) SendToConnection(ctx context.Context, hub, connectionID string, msg Message, opts *SendToConnectionOptions) (SendToConnectionResponse, error) {
	p, err := path().hub(hub).conn(connectionID).done()
	return SendToConnectionResponse{}, c.send(ctx, "SendToConnection", p, err, msg, nil)
}

// SendToGroupOptions are the optional parameters of [Client.SendToGroup].
type SendToGroupOptions struct {
	// Excluded lists connection ids that must not receive the message.
	Excluded []string
}

// SendToGroupResponse is the result of [Client.SendToGroup].
type SendToGroupResponse struct{}

// SendToGroup sends msg to every connection in group
// (POST /api/hubs/{hub}/groups/{group}/:send).
func (c *Client) SendToGroup(ctx context.Context, hub, group string, msg Message, opts *SendToGroupOptions) (SendToGroupResponse, error) {
	var ex []string
	if opts != nil {
		ex = opts.Excluded
	}
	p, err := path().hub(hub).group(group).done()
	return SendToGroupResponse{}, c.send(ctx, "SendToGroup", p, err, msg, excludedQuery(ex, ""))
}

// CloseConnectionsOptions are the optional parameters of
// [Client.CloseAllConnections], [Client.CloseGroupConnections] and
// [Client.CloseUserConnections].
type CloseConnectionsOptions struct {
	// Excluded lists connection ids to keep open.
	Excluded []string
	// Reason is sent to the clients as the close reason.
	Reason string
}

// CloseConnectionsResponse is the result of the Close…Connections methods.
type CloseConnectionsResponse struct{}

func (c *Client) closeMany(ctx context.Context, op, p string, perr error, opts *CloseConnectionsOptions) (CloseConnectionsResponse, error) {
	if perr != nil {
		return CloseConnectionsResponse{}, perr
	}
	var o CloseConnectionsOptions
	if opts != nil {
		o = *opts
	}
	_, err := c.do(ctx, call{op: op, method: http.MethodPost, path: p + "/:closeConnections", apiVersion: APIVersion,
		query: excludedQuery(o.Excluded, o.Reason), ok: statusDone})
	return CloseConnectionsResponse{}, err
}

// CloseAllConnections closes every connection of hub
// (POST /api/hubs/{hub}/:closeConnections).
func (c *Client) CloseAllConnections(ctx context.Context, hub string, opts *CloseConnectionsOptions) (CloseConnectionsResponse, error) {
	p, err := path().hub(hub).done()
	return c.closeMany(ctx, "CloseAllConnections", p, err, opts)
}

// CloseGroupConnections closes every connection in group
// (POST /api/hubs/{hub}/groups/{group}/:closeConnections).
func (c *Client) CloseGroupConnections(ctx context.Context, hub, group string, opts *CloseConnectionsOptions) (CloseConnectionsResponse, error) {
	p, err := path().hub(hub).group(group).done()
	return c.closeMany(ctx, "CloseGroupConnections", p, err, opts)
}

// CloseUserConnections closes every connection of userID
// (POST /api/hubs/{hub}/users/{user}/:closeConnections).
func (c *Client) CloseUserConnections(ctx context.Context, hub, userID string, opts *CloseConnectionsOptions) (CloseConnectionsResponse, error) {
	p, err := path().hub(hub).user(userID).done()
	return c.closeMany(ctx, "CloseUserConnections", p, err, opts)
}

// CloseConnectionOptions are the optional parameters of
// [Client.CloseConnection].
type CloseConnectionOptions struct {
	// Reason is sent to the client as the close reason.
	Reason string
}

// CloseConnectionResponse is the result of [Client.CloseConnection].
type CloseConnectionResponse struct{}

// CloseConnection closes one connection
// (DELETE /api/hubs/{hub}/connections/{connectionId}). Like the SDK, it
// succeeds when the connection does not exist (404
// Warning.Connection.NotExisted).
func (c *Client) CloseConnection(ctx context.Context, hub, connectionID string, opts *CloseConnectionOptions) (CloseConnectionResponse, error) {
	p, err := path().hub(hub).conn(connectionID).done()
	if err != nil {
		return CloseConnectionResponse{}, err
	}
	var q url.Values
	if opts != nil && opts.Reason != "" {
		q = url.Values{"reason": {opts.Reason}}
	}
	_, err = c.do(ctx, call{op: "CloseConnection", method: http.MethodDelete, path: p, apiVersion: APIVersion, query: q, ok: statusDone})
	if tolerated404(err, "Warning.Connection.NotExisted") {
		err = nil
	}
	return CloseConnectionResponse{}, err
}

// tolerated404 reports whether err is a 404 the SDK treats as an answer:
// its x-ms-error-code is want, or absent.
func tolerated404(err error, want string) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && (re.ErrorCode == "" || re.ErrorCode == want)
}

// exists runs a HEAD check: 200 → true, tolerated 404 → false.
func (c *Client) exists(ctx context.Context, op, p string, perr error, notFound string) (bool, error) {
	if perr != nil {
		return false, perr
	}
	_, err := c.do(ctx, call{op: op, method: http.MethodHead, path: p, apiVersion: APIVersion, ok: statusOK})
	if err == nil {
		return true, nil
	}
	if tolerated404(err, notFound) {
		return false, nil
	}
	return false, err
}

// ExistsOptions are the optional parameters of the …Exists and
// [Client.UserInGroup] methods.
type ExistsOptions struct{}

// ExistsResponse is the result of the …Exists methods.
type ExistsResponse struct {
	// Exists is false when the service answered 404.
	Exists bool
}

// ConnectionExists reports whether connectionID is connected to hub
// (HEAD /api/hubs/{hub}/connections/{connectionId}).
func (c *Client) ConnectionExists(ctx context.Context, hub, connectionID string, opts *ExistsOptions) (ExistsResponse, error) {
	p, err := path().hub(hub).conn(connectionID).done()
	ok, err := c.exists(ctx, "ConnectionExists", p, err, "Warning.Connection.NotExisted")
	return ExistsResponse{Exists: ok}, err
}

// UserExists reports whether userID has a connection to hub
// (HEAD /api/hubs/{hub}/users/{user}).
func (c *Client) UserExists(ctx context.Context, hub, userID string, opts *ExistsOptions) (ExistsResponse, error) {
	p, err := path().hub(hub).user(userID).done()
	ok, err := c.exists(ctx, "UserExists", p, err, "Warning.User.NotExisted")
	return ExistsResponse{Exists: ok}, err
}

// GroupExists reports whether group has a connection in hub
// (HEAD /api/hubs/{hub}/groups/{group}).
func (c *Client) GroupExists(ctx context.Context, hub, group string, opts *ExistsOptions) (ExistsResponse, error) {
	p, err := path().hub(hub).group(group).done()
	ok, err := c.exists(ctx, "GroupExists", p, err, "Warning.Group.NotExisted")
	return ExistsResponse{Exists: ok}, err
}

// UserInGroupResponse is the result of [Client.UserInGroup].
type UserInGroupResponse struct {
	// InGroup is false when the service answered 404.
	InGroup bool
}

// UserInGroup reports whether userID is in group
// (HEAD /api/hubs/{hub}/users/{user}/groups/{group}).
func (c *Client) UserInGroup(ctx context.Context, hub, group, userID string, opts *ExistsOptions) (UserInGroupResponse, error) {
	p, err := path().hub(hub).user(userID).group(group).done()
	ok, err := c.exists(ctx, "UserInGroup", p, err, "Info.User.NotInGroup")
	return UserInGroupResponse{InGroup: ok}, err
}

// GroupOptions are the optional parameters of the group membership
// methods other than [Client.AddUserToGroup].
type GroupOptions struct{}

// GroupResponse is the result of the group membership methods.
type GroupResponse struct{}

func (c *Client) membership(ctx context.Context, op, method, p string, perr error, q url.Values) (GroupResponse, error) {
	if perr != nil {
		return GroupResponse{}, perr
	}
	_, err := c.do(ctx, call{op: op, method: method, path: p, apiVersion: APIVersion, query: q, ok: statusDone})
	return GroupResponse{}, err
}

// AddConnectionToGroup adds connectionID to group
// (PUT /api/hubs/{hub}/groups/{group}/connections/{connectionId}). The
// service answers 404 (Error.Connection.NotExisted) for an unknown
// connection; that is returned as a *ResponseError.
func (c *Client) AddConnectionToGroup(ctx context.Context, hub, group, connectionID string, opts *GroupOptions) (GroupResponse, error) {
	p, err := path().hub(hub).group(group).conn(connectionID).done()
	return c.membership(ctx, "AddConnectionToGroup", http.MethodPut, p, err, nil)
}

// RemoveConnectionFromGroup removes connectionID from group
// (DELETE /api/hubs/{hub}/groups/{group}/connections/{connectionId}).
func (c *Client) RemoveConnectionFromGroup(ctx context.Context, hub, group, connectionID string, opts *GroupOptions) (GroupResponse, error) {
	p, err := path().hub(hub).group(group).conn(connectionID).done()
	return c.membership(ctx, "RemoveConnectionFromGroup", http.MethodDelete, p, err, nil)
}

// RemoveConnectionFromAllGroups removes connectionID from every group
// (DELETE /api/hubs/{hub}/connections/{connectionId}/groups).
func (c *Client) RemoveConnectionFromAllGroups(ctx context.Context, hub, connectionID string, opts *GroupOptions) (GroupResponse, error) {
	p, err := path().hub(hub).conn(connectionID).lit("/groups").done()
	return c.membership(ctx, "RemoveConnectionFromAllGroups", http.MethodDelete, p, err, nil)
}

// AddUserToGroupOptions are the optional parameters of
// [Client.AddUserToGroup].
type AddUserToGroupOptions struct {
	// TTL is how long the user stays in the group (sent as whole seconds
	// in the ttl query). Nil means no limit; 0 adds only the user's
	// current connections. Negative values are rejected.
	TTL *time.Duration
}

// AddUserToGroup adds userID to group
// (PUT /api/hubs/{hub}/users/{user}/groups/{group}).
func (c *Client) AddUserToGroup(ctx context.Context, hub, group, userID string, opts *AddUserToGroupOptions) (GroupResponse, error) {
	p, err := path().hub(hub).user(userID).group(group).done()
	var q url.Values
	if err == nil && opts != nil && opts.TTL != nil {
		if *opts.TTL < 0 {
			return GroupResponse{}, &ArgumentError{Name: ArgTTL, Reason: "must not be negative"}
		}
		q = url.Values{"ttl": {strconv.FormatInt(int64(*opts.TTL/time.Second), 10)}}
	}
	return c.membership(ctx, "AddUserToGroup", http.MethodPut, p, err, q)
}

// RemoveUserFromGroup removes userID from group
// (DELETE /api/hubs/{hub}/users/{user}/groups/{group}).
func (c *Client) RemoveUserFromGroup(ctx context.Context, hub, group, userID string, opts *GroupOptions) (GroupResponse, error) {
	p, err := path().hub(hub).user(userID).group(group).done()
	return c.membership(ctx, "RemoveUserFromGroup", http.MethodDelete, p, err, nil)
}

// RemoveUserFromAllGroups removes userID from every group
// (DELETE /api/hubs/{hub}/users/{user}/groups).
func (c *Client) RemoveUserFromAllGroups(ctx context.Context, hub, userID string, opts *GroupOptions) (GroupResponse, error) {
	p, err := path().hub(hub).user(userID).lit("/groups").done()
	return c.membership(ctx, "RemoveUserFromAllGroups", http.MethodDelete, p, err, nil)
}

// HealthOptions are the optional parameters of [Client.Health].
type HealthOptions struct{}

// HealthResponse is the result of [Client.Health].
type HealthResponse struct {
	// StatusCode is the HTTP status of the (2xx) answer.
	StatusCode int
}

// Health probes the service (HEAD /api/health). A 2xx answer is healthy;
// anything else is an error: a *[ResponseError] (5xx means the service is
// unhealthy) or a *[ConnectionError]. The probe reaches the service even
// while the circuit breaker is open, and its success closes the breaker,
// so that calls resume as soon as the service is back.
func (c *Client) Health(ctx context.Context, opts *HealthOptions) (HealthResponse, error) {
	resp, err := c.do(ctx, call{op: "Health", method: http.MethodHead, path: "health", apiVersion: APIVersion, probe: true, ok: statusDone})
	if err != nil {
		return HealthResponse{}, err
	}
	return HealthResponse{StatusCode: resp.StatusCode}, nil
}

// GenerateClientTokenOptions are the optional parameters of
// [Client.GenerateClientToken].
type GenerateClientTokenOptions struct {
	// UserID becomes the user id of connections using the token.
	UserID string
	// MinutesToExpire is the token lifetime; 0 means the service default
	// (60).
	MinutesToExpire int
}

// GenerateClientTokenResponse is the result of [Client.GenerateClientToken].
type GenerateClientTokenResponse struct {
	// Token is the client access token minted by the service.
	Token string
}

// GenerateClientToken asks the service to mint a client access token for
// hub (POST /api/hubs/{hub}/:generateToken, api-version 2023-07-01). It
// lets Entra ID deployments negotiate without an access key, at the cost of
// custom claims.
func (c *Client) GenerateClientToken(ctx context.Context, hub string, opts *GenerateClientTokenOptions) (GenerateClientTokenResponse, error) {
	p, err := path().hub(hub).done()
	if err != nil {
		return GenerateClientTokenResponse{}, err
	}
	q := url.Values{}
	if opts != nil {
		if opts.UserID != "" {
			q.Set("userId", opts.UserID)
		}
		if opts.MinutesToExpire < 0 {
			return GenerateClientTokenResponse{}, &ArgumentError{Name: ArgExpiry, Reason: "must not be negative"}
		}
		if opts.MinutesToExpire > 0 {
			q.Set("minutesToExpire", strconv.Itoa(opts.MinutesToExpire))
		}
	}
	resp, err := c.do(ctx, call{op: "GenerateClientToken", method: http.MethodPost, path: p + "/:generateToken", apiVersion: tokenAPIVersion, query: q, ok: statusOK})
	if err != nil {
		return GenerateClientTokenResponse{}, err
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := runtime.UnmarshalAsJSON(resp, &out); err != nil || out.Token == "" {
		return GenerateClientTokenResponse{}, c.badAnswer("GenerateClientToken", resp, "the response has no token")
	}
	return GenerateClientTokenResponse{Token: out.Token}, nil
}

// GetAccessKeyOptions are the optional parameters of [Client.GetAccessKey].
type GetAccessKeyOptions struct{}

// GetAccessKeyResponse is the result of [Client.GetAccessKey].
type GetAccessKeyResponse struct {
	// Key is the signing key for client tokens; Key.ID is the kid.
	Key AccessKey
}

// GetAccessKey fetches a temporary signing key from the service
// (GET /api/v1/auth/accessKey), as the SDK does for Entra ID endpoints.
// Most callers want [Client.AccessKey], which caches and refreshes it.
func (c *Client) GetAccessKey(ctx context.Context, opts *GetAccessKeyOptions) (GetAccessKeyResponse, error) {
	resp, err := c.do(ctx, call{op: "GetAccessKey", method: http.MethodGet, path: "v1/auth/accessKey", ok: statusOK})
	if err != nil {
		return GetAccessKeyResponse{}, err
	}
	var out struct {
		KeyID     string `json:"KeyId"`
		AccessKey string `json:"AccessKey"`
	}
	if err := runtime.UnmarshalAsJSON(resp, &out); err != nil || out.KeyID == "" || out.AccessKey == "" {
		return GetAccessKeyResponse{}, c.badAnswer("GetAccessKey", resp, "the response lacks KeyId or AccessKey")
	}
	return GetAccessKeyResponse{Key: AccessKey{ID: out.KeyID, Value: out.AccessKey}}, nil
}

// badAnswer is the error for a success status whose body is unusable.
func (c *Client) badAnswer(op string, resp *http.Response, msg string) *ResponseError {
	return &ResponseError{ResponseError: &azcore.ResponseError{StatusCode: resp.StatusCode, RawResponse: resp},
		Message: msg, Endpoint: c.serverBase, Operation: op}
}
