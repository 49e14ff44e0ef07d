package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/serverless-signalr/functions-go/signalr/filter"
)

// POST /api/hubs/{hub}/:execute?filter=… (api-version 2023-07-01): a list of
// commands applied, in order and under one lock (the service calls it a
// transaction), to the connections the filter selects (all connections of
// the hub without a filter). The command shapes are the swagger's
// definitions SendMessage {message: PayloadMessage}, JoinGroup and LeaveGroup
// {group}, CloseConnection {reason}, each with "type" (Azure/azure-signalr
// docs/swagger/V20230701.json and v20241201.json); the answer is 202.

// command is one SignalRCommand. Field names match case-insensitively, as
// encoding/json does (the .NET SDK writes PascalCase, the swagger camelCase).
type command struct {
	Type    string          `json:"type"`
	Message json.RawMessage `json:"message"`
	Group   string          `json:"group"`
	Reason  string          `json:"reason"`

	payload payload
}

// parseCommands decodes and validates the whole body before anything runs.
func parseCommands(body []byte) ([]command, error) {
	var cmds []command
	if err := json.Unmarshal(body, &cmds); err != nil {
		return nil, errors.New(`the body must be a JSON array of commands, e.g. [{"type":"SendMessage","message":{"target":"m","arguments":[]}}, {"type":"JoinGroup","group":"g"}]`)
	}
	for i := range cmds {
		c := &cmds[i]
		switch strings.ToLower(c.Type) {
		case "sendmessage":
			if len(c.Message) == 0 || string(c.Message) == "null" {
				return nil, fmt.Errorf("command %d (SendMessage) needs \"message\": {\"target\":…,\"arguments\":[…]}", i)
			}
			p, err := decodePayload(c.Message)
			if err != nil {
				return nil, fmt.Errorf("command %d (SendMessage): %v", i, err)
			}
			c.payload = p
		case "joingroup", "leavegroup":
			if c.Group == "" || len(c.Group) > maxGroupLen || strings.TrimSpace(c.Group) == "" {
				return nil, fmt.Errorf("command %d (%s) needs \"group\": 1 to 1024 characters, not only whitespace", i, c.Type)
			}
		case "closeconnection":
		case "":
			return nil, fmt.Errorf("command %d has no \"type\": one of SendMessage, JoinGroup, LeaveGroup, CloseConnection", i)
		default:
			return nil, fmt.Errorf("command %d has the unknown type %q: one of SendMessage, JoinGroup, LeaveGroup, CloseConnection", i, c.Type)
		}
		c.Type = strings.ToLower(c.Type)
	}
	return cmds, nil
}

// connGroups is every group c is in: its own memberships and the live
// user-level ones of its user. e.mu must be held.
func (h *hub) connGroups(c *conn, now time.Time) []string {
	out := make([]string, 0, len(c.groups))
	for g := range c.groups {
		out = append(out, g)
	}
	if c.user == "" {
		return out
	}
	for g, exp := range h.userGroups[c.user] {
		if _, dup := c.groups[g]; !dup && live(exp, now) {
			out = append(out, g)
		}
	}
	return out
}

// selectConns returns the hub's connections f selects (all when f is nil).
// e.mu must be held.
func (h *hub) selectConns(f *filter.Filter, now time.Time) []*conn {
	out := make([]*conn, 0, len(h.conns))
	for _, c := range h.conns {
		if f == nil || f.Match(filter.Connection{ConnectionID: c.id, UserID: c.user, Groups: h.connGroups(c, now)}) {
			out = append(out, c)
		}
	}
	return out
}

// parseFilterParam reads the filter query parameter; absent or empty means
// no filter. A bad filter is answered 400 with where and what was expected.
func parseFilterParam(w http.ResponseWriter, r *http.Request) (*filter.Filter, bool) {
	s := r.URL.Query().Get("filter")
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	f, err := filter.Parse(s)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "filter", err.Error())
		return nil, false
	}
	return f, true
}

// restExecute serves POST /api/hubs/{hub}/:execute.
func (e *Emulator) restExecute(w http.ResponseWriter, r *http.Request, key string) {
	f, ok := parseFilterParam(w, r)
	if !ok {
		return
	}
	body, ok := e.readBody(w, r)
	if !ok {
		return
	}
	cmds, err := parseCommands(body)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "commands", err.Error())
		return
	}
	now := e.now()
	var closing []*conn
	reason := ""
	e.mu.Lock()
	if h := e.hubs[key]; h != nil {
		targets := h.selectConns(f, now)
		for _, cmd := range cmds {
			switch cmd.Type {
			case "sendmessage":
				rec := newInvocation(cmd.payload.target, cmd.payload.args)
				for _, c := range targets {
					c.enqueue(rec)
				}
			case "joingroup":
				for _, c := range targets {
					h.addConnToGroup(c, cmd.Group)
				}
			case "leavegroup":
				for _, c := range targets {
					h.removeConnFromGroup(c, cmd.Group)
				}
			case "closeconnection":
				// Later commands no longer reach closed connections.
				closing = append(closing, targets...)
				reason = cmd.Reason
				targets = nil
			}
		}
	}
	e.mu.Unlock()
	e.closeConns(key, closing, reason)
	w.WriteHeader(http.StatusAccepted)
}
