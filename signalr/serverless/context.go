package serverless

import (
	"context"
	"errors"
	"net/url"

	"github.com/serverless-signalr/functions-go/signalr"
)

// Context is what a hub handler knows about the call: the connection, its
// user, claims and query, and a [Clients] to reach the hub's connections.
// It is a context.Context, cancelled at the per-call timeout.
type Context struct {
	context.Context
	// Hub is the hub's name as the service sent it.
	Hub string
	// ConnectionID is the calling connection.
	ConnectionID string
	// UserID is the connection's user id; empty for anonymous connections.
	UserID string
	// Claims are the connection's claims, in order.
	Claims []signalr.Claim
	// Query is the client's connect query (access_token removed).
	Query url.Values
	// Error is the reason of a disconnected event ("" for a clean close).
	Error string
	// Clients sends to the hub's connections and manages its groups.
	Clients *Clients
	// Request is the parsed upstream call.
	Request *signalr.UpstreamRequest
}

func (h *Hub) newContext(ctx context.Context, u *signalr.UpstreamRequest) *Context {
	return &Context{
		Context:      ctx,
		Hub:          u.Hub,
		ConnectionID: u.ConnectionID,
		UserID:       u.UserID,
		Claims:       u.Claims,
		Query:        u.Query,
		Error:        u.Error,
		Clients:      newClients(u.Hub, h.opts.Clients, u.Endpoint),
		Request:      u,
	}
}

// Claim returns the first value of the claim type typ, or "".
func (c *Context) Claim(typ string) string {
	for _, cl := range c.Claims {
		if cl.Type == typ {
			return cl.Value
		}
	}
	return ""
}

// Caller sends target(args...) to the calling connection only.
func (c *Context) Caller(target string, args ...any) error {
	return c.Clients.Connection(c, c.ConnectionID, target, args...)
}

// Others sends target(args...) to every connection of the hub but the
// caller.
func (c *Context) Others(target string, args ...any) error {
	return c.Clients.AllExcept(c, []string{c.ConnectionID}, target, args...)
}

// JoinGroup adds the calling connection to group.
func (c *Context) JoinGroup(group string) error {
	return c.Clients.AddToGroup(c, group, c.ConnectionID)
}

// LeaveGroup removes the calling connection from group.
func (c *Context) LeaveGroup(group string) error {
	return c.Clients.RemoveFromGroup(c, group, c.ConnectionID)
}

// Clients is a hub-scoped view of the service's REST API. Sends to many
// connections go to every endpoint; operations on one connection go to the
// endpoint the call came from (the one whose key signed it), else to every
// endpoint.
type Clients struct {
	hub  string
	all  []*signalr.Client
	home []*signalr.Client
}

// ErrNoClient is returned by [Clients] methods when the hub has no REST
// client ([Options.Clients] is empty).
var ErrNoClient = errors.New("serverless: the hub has no REST client to reach the service")

func newClients(hub string, all []*signalr.Client, endpoint int) *Clients {
	c := &Clients{hub: hub, all: all, home: all}
	if endpoint >= 0 && endpoint < len(all) {
		c.home = all[endpoint : endpoint+1]
	}
	return c
}

// NewClients returns the hub-scoped client of hub over clients, for code
// outside a hub call.
func NewClients(hub string, clients ...*signalr.Client) *Clients {
	return newClients(hub, clients, -1)
}

// each runs op on every client of set and joins the errors.
func (c *Clients) each(set []*signalr.Client, op func(*signalr.Client) error) error {
	if len(set) == 0 {
		return ErrNoClient
	}
	var errs []error
	for _, cl := range set {
		if err := op(cl); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Clients) send(set []*signalr.Client, target string, args []any, op func(*signalr.Client, signalr.Message) error) error {
	msg, err := signalr.NewMessage(target, args...)
	if err != nil {
		return err
	}
	return c.each(set, func(cl *signalr.Client) error { return op(cl, msg) })
}

// All sends target(args...) to every connection of the hub.
func (c *Clients) All(ctx context.Context, target string, args ...any) error {
	return c.send(c.all, target, args, func(cl *signalr.Client, m signalr.Message) error {
		_, err := cl.SendToAll(ctx, c.hub, m, nil)
		return err
	})
}

// AllExcept sends target(args...) to every connection of the hub but the
// excluded ones.
func (c *Clients) AllExcept(ctx context.Context, excluded []string, target string, args ...any) error {
	return c.send(c.all, target, args, func(cl *signalr.Client, m signalr.Message) error {
		_, err := cl.SendToAll(ctx, c.hub, m, &signalr.SendToAllOptions{Excluded: excluded})
		return err
	})
}

// Connection sends target(args...) to one connection.
func (c *Clients) Connection(ctx context.Context, connectionID, target string, args ...any) error {
	return c.send(c.home, target, args, func(cl *signalr.Client, m signalr.Message) error {
		_, err := cl.SendToConnection(ctx, c.hub, connectionID, m, nil)
		return err
	})
}

// User sends target(args...) to every connection of a user.
func (c *Clients) User(ctx context.Context, userID, target string, args ...any) error {
	return c.send(c.all, target, args, func(cl *signalr.Client, m signalr.Message) error {
		_, err := cl.SendToUser(ctx, c.hub, userID, m, nil)
		return err
	})
}

// Group sends target(args...) to every connection in group.
func (c *Clients) Group(ctx context.Context, group, target string, args ...any) error {
	return c.send(c.all, target, args, func(cl *signalr.Client, m signalr.Message) error {
		_, err := cl.SendToGroup(ctx, c.hub, group, m, nil)
		return err
	})
}

// AddToGroup adds a connection to group.
func (c *Clients) AddToGroup(ctx context.Context, group, connectionID string) error {
	return c.each(c.home, func(cl *signalr.Client) error {
		_, err := cl.AddConnectionToGroup(ctx, c.hub, group, connectionID, nil)
		return err
	})
}

// RemoveFromGroup removes a connection from group.
func (c *Clients) RemoveFromGroup(ctx context.Context, group, connectionID string) error {
	return c.each(c.home, func(cl *signalr.Client) error {
		_, err := cl.RemoveConnectionFromGroup(ctx, c.hub, group, connectionID, nil)
		return err
	})
}

// AddUserToGroup adds every connection of a user, now and later, to group.
func (c *Clients) AddUserToGroup(ctx context.Context, group, userID string) error {
	return c.each(c.all, func(cl *signalr.Client) error {
		_, err := cl.AddUserToGroup(ctx, c.hub, group, userID, nil)
		return err
	})
}

// RemoveUserFromGroup removes a user from group.
func (c *Clients) RemoveUserFromGroup(ctx context.Context, group, userID string) error {
	return c.each(c.all, func(cl *signalr.Client) error {
		_, err := cl.RemoveUserFromGroup(ctx, c.hub, group, userID, nil)
		return err
	})
}

// CloseConnection closes a connection; reason reaches the client.
func (c *Clients) CloseConnection(ctx context.Context, connectionID, reason string) error {
	return c.each(c.home, func(cl *signalr.Client) error {
		_, err := cl.CloseConnection(ctx, c.hub, connectionID, &signalr.CloseConnectionOptions{Reason: reason})
		return err
	})
}
