package server

import (
	"errors"
	"log/slog"
	"strconv"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
	"github.com/serverless-signalr/functions-go/signalr/serverless"
)

// chatMessage is the argument of newMessage; Group is set for sendToGroup.
type chatMessage struct {
	From  string `json:"from"`
	Text  string `json:"text"`
	Group string `json:"group,omitempty"`
}

// presence is the argument of presence: who connected or disconnected.
type presence struct {
	ConnectionID string  `json:"connectionId"`
	UserID       *string `json:"userId"` // null for anonymous connections
	Event        string  `json:"event"`
}

// maxChatText bounds a chat message (the service's REST API takes 1 MB).
const maxChatText = 64 << 10

// newChatHub is the app's hub (the default hub, "chat" unless
// AzureSignalRHubName says otherwise), the contract the chat page and the
// end-to-end tests rely on:
//
//   - sendMessage(text): every connection gets newMessage {from, text}
//     (from = user id, else connection id); returns the same object.
//   - joinGroup(name) / leaveGroup(name): the caller joins / leaves.
//   - sendToGroup(name, text): the group gets newMessage {from, text, group}.
//   - connected / disconnected: every connection gets presence
//     {connectionId, userId, event}.
//
// Unknown methods are error completions naming the method (serverless.Hub).
func newChatHub(name string, opts serverless.Options) *serverless.Hub {
	h := serverless.New(name, opts)
	log := opts.Logger
	announce := func(event string) func(c *serverless.Context) error {
		return func(c *serverless.Context) error {
			p := presence{ConnectionID: c.ConnectionID, Event: event}
			if c.UserID != "" {
				p.UserID = &c.UserID
			}
			return delivered(log, c.Clients.All(c, "presence", p))
		}
	}
	h.OnConnected(announce(signalr.UpstreamConnected))
	h.OnDisconnected(announce(signalr.UpstreamDisconnected))

	h.Method("sendMessage", func(c *serverless.Context, text string) (*chatMessage, error) {
		if err := checkText(text); err != nil {
			return nil, err
		}
		m := &chatMessage{From: sender(c), Text: text}
		return m, delivered(log, c.Clients.All(c, "newMessage", m))
	})
	h.Method("joinGroup", func(c *serverless.Context, group string) error {
		if err := signalr.ValidateGroupName(group); err != nil {
			return err
		}
		return delivered(log, c.JoinGroup(group))
	})
	h.Method("leaveGroup", func(c *serverless.Context, group string) error {
		if err := signalr.ValidateGroupName(group); err != nil {
			return err
		}
		return delivered(log, c.LeaveGroup(group))
	})
	h.Method("sendToGroup", func(c *serverless.Context, group, text string) (*chatMessage, error) {
		if err := signalr.ValidateGroupName(group); err != nil {
			return nil, err
		}
		if err := checkText(text); err != nil {
			return nil, err
		}
		m := &chatMessage{From: sender(c), Text: text, Group: group}
		return m, delivered(log, c.Clients.Group(c, group, "newMessage", m))
	})
	return h
}

func sender(c *serverless.Context) string {
	if c.UserID != "" {
		return c.UserID
	}
	return c.ConnectionID
}

func checkText(text string) error {
	if len(text) > maxChatText {
		return errors.New("the message is longer than " + strconv.Itoa(maxChatText) + " bytes")
	}
	return nil
}

// delivered turns a REST failure into the client's message (its stable code
// only, never the endpoint or the service's text) and logs the cause.
func delivered(log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	code := apperr.FromSignalR(err).Code
	log.Warn("chat hub: the service call failed", "code", code, "error", err)
	return errors.New("the service could not deliver it (" + code + "); try again")
}
