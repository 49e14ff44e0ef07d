package server

import (
	"fmt"
	"net/http"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
)

// presenceBody is the answer of GET /api/presence.
type presenceBody struct {
	Hub         string           `json:"hub"`
	Group       string           `json:"group"`
	Connections []presenceMember `json:"connections"`
}

// presenceMember is one connection of the group; UserID is omitted for an
// anonymous connection.
type presenceMember struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId,omitempty"`
}

// handlePresence serves "GET /api/presence?group=NAME[&hub=]": every
// connection in the group, on every endpoint, following every page of the
// service's GET /api/hubs/{hub}/groups/{group}/connections (api-version
// 2024-12-01).
func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request) {
	hub, err := s.pickHub(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	group, ok := q["group"]
	if !ok || len(group) == 0 || group[0] == "" {
		s.fail(w, r, apperr.New(apperr.CodePresenceMissingGroup, "the group to list is missing: GET /api/presence?group=NAME", ""))
		return
	}
	if err := signalr.ValidateGroupName(group[0]); err != nil {
		s.fail(w, r, apperr.New(apperr.CodePresenceInvalidGroup, fmt.Sprintf("group is invalid: %v", err), ""))
		return
	}
	body := presenceBody{Hub: hub, Group: group[0], Connections: []presenceMember{}}
	for _, ep := range s.endpoints.list {
		pager := ep.client.NewListConnectionsInGroupPager(hub, group[0], nil)
		for pager.More() {
			page, err := pager.NextPage(r.Context())
			if err != nil {
				s.fail(w, r, apperr.FromSignalR(featureError(err, "listing a group (api-version 2024-12-01)")))
				return
			}
			for _, m := range page.Value {
				body.Connections = append(body.Connections, presenceMember(m))
			}
		}
	}
	writeJSON(w, http.StatusOK, body)
}
