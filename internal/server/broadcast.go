package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/serverless-signalr/functions-go/customhandler"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// broadcastResult is the JSON summary of a broadcast.
type broadcastResult struct {
	Hub     string       `json:"hub"`
	Sent    int          `json:"sent"`
	Items   []itemResult `json:"items"`
	Stopped *int         `json:"stoppedAt,omitempty"`
}

type itemResult struct {
	Index     int              `json:"index"`
	Kind      string           `json:"kind"` // message or groupAction
	Route     string           `json:"route"`
	Status    string           `json:"status"` // sent, failed, notAttempted
	Endpoints []endpointResult `json:"endpoints,omitempty"`
}

type endpointResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok or failed
	Code   string `json:"code,omitempty"`
	Error  string `json:"error,omitempty"`
}

// handleBroadcast serves the "POST /api/broadcast" route and "POST
// /broadcast" through the Functions envelope. The body is the Functions
// SignalR output binding's JSON (a message, a group action, or an array of
// them); every item goes to every endpoint (or the item's endpoints) in
// order, and the first item that fails stops the batch so that nothing
// after it is sent out of order. It answers 202 with a summary, or the
// failure's status with the error and the same summary.
func (s *Server) handleBroadcast(w http.ResponseWriter, r *http.Request) {
	if err := s.authorizeBroadcast(r); err != nil {
		s.fail(w, r, err)
		return
	}
	// The Content-Type was checked before (checkBody: JSONBody).
	hub, err := s.pickHub(r)
	if err != nil {
		e := apperr.As(err)
		if e.Code == apperr.CodeNegotiateInvalidHub {
			e = apperr.New(apperr.CodeBroadcastInvalidHub, e.Message, e.Hint)
		}
		s.fail(w, r, e)
		return
	}
	items, err := readBroadcast(http.MaxBytesReader(w, r.Body, maxBroadcastBody), r.ContentLength)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, it := range items {
		for _, name := range it.Endpoints {
			if s.endpoints.byName(name) == nil {
				s.fail(w, r, apperr.New(apperr.CodeBroadcastInvalid, fmt.Sprintf("endpoint %q is not configured", textutil.Truncate(name, 64)), ""))
				return
			}
		}
	}

	res := broadcastResult{Hub: hub, Items: make([]itemResult, len(items))}
	var failure error
	for i := range items {
		it := &items[i]
		ir := &res.Items[i]
		ir.Index, ir.Route, ir.Status = i, it.route, "notAttempted"
		ir.Kind = "message"
		if it.kind == kindGroupAction {
			ir.Kind = "groupAction"
		}
		if failure != nil {
			continue
		}
		ir.Endpoints, failure = s.deliver(r.Context(), hub, it)
		if failure != nil {
			ir.Status = "failed"
			stopped := i
			res.Stopped = &stopped
			continue
		}
		ir.Status = "sent"
		res.Sent++
	}
	if customhandler.Logging(r.Context()) {
		customhandler.Log(r.Context(), fmt.Sprintf("broadcast: %d of %d items sent to hub %s", res.Sent, len(items), hub))
	}
	if failure != nil {
		s.failWith(w, r, serviceError(failure), res)
		return
	}
	writeSummary(w, &res)
}

// deliver sends one item to every endpoint it is meant for, concurrently.
// It fails when any endpoint failed.
func (s *Server) deliver(ctx context.Context, hub string, it *outputItem) ([]endpointResult, error) {
	targets := s.endpoints.list
	if len(it.Endpoints) > 0 {
		targets = make([]*endpoint, 0, len(it.Endpoints))
		for _, n := range it.Endpoints {
			targets = append(targets, s.endpoints.byName(n))
		}
	}
	out := make([]endpointResult, len(targets))
	errs := make([]error, len(targets))
	one := func(i int) {
		ep := targets[i]
		err := s.apply(ctx, ep.client, hub, it)
		out[i] = endpointResult{Name: ep.name, Status: "ok"}
		if err == nil {
			ep.callSucceeded(s.log)
		}
		if err != nil {
			errs[i] = err
			out[i] = endpointResult{Name: ep.name, Status: "failed", Code: apperr.FromSignalR(err).Code, Error: err.Error()}
		}
	}
	// The first endpoint is served on this goroutine: with one endpoint (the
	// usual case) no goroutine hand-off adds scheduling latency.
	var wg sync.WaitGroup
	for i := 1; i < len(targets); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one(i)
		}()
	}
	one(0)
	wg.Wait()
	return out, errors.Join(errs...)
}

// apply performs one item on one endpoint's REST API.
func (s *Server) apply(ctx context.Context, c *signalr.Client, hub string, it *outputItem) error {
	msg := signalr.Message{Target: it.Target, Arguments: it.Arguments}
	var err error
	switch it.route {
	case "connection":
		_, err = c.SendToConnection(ctx, hub, it.ConnectionID, msg, nil)
	case "user":
		_, err = c.SendToUser(ctx, hub, it.UserID, msg, nil)
	case "group":
		_, err = c.SendToGroup(ctx, hub, it.GroupName, msg, &signalr.SendToGroupOptions{Excluded: it.Excluded})
	case "all":
		_, err = c.SendToAll(ctx, hub, msg, &signalr.SendToAllOptions{Excluded: it.Excluded})
	case "add":
		if it.ConnectionID != "" {
			_, err = c.AddConnectionToGroup(ctx, hub, it.GroupName, it.ConnectionID, nil)
		} else {
			var o signalr.AddUserToGroupOptions
			if it.TTL != nil {
				ttl := time.Duration(*it.TTL) * time.Second
				o.TTL = &ttl
			}
			_, err = c.AddUserToGroup(ctx, hub, it.GroupName, it.UserID, &o)
		}
	case "remove":
		if it.ConnectionID != "" {
			_, err = c.RemoveConnectionFromGroup(ctx, hub, it.GroupName, it.ConnectionID, nil)
		} else {
			_, err = c.RemoveUserFromGroup(ctx, hub, it.GroupName, it.UserID, nil)
		}
	case "removeAll":
		if it.ConnectionID != "" {
			_, err = c.RemoveConnectionFromAllGroups(ctx, hub, it.ConnectionID, nil)
		} else {
			_, err = c.RemoveUserFromAllGroups(ctx, hub, it.UserID, nil)
		}
	case routeFilter, routeFilterAdd, routeFilterRemove:
		err = applyFilter(ctx, c, hub, it)
	default:
		err = fmt.Errorf("unknown route %q", it.route)
	}
	return err
}

// serviceError maps a REST failure onto the taxonomy (apperr.FromSignalR),
// keeping the service's error code and message.
func serviceError(err error) *apperr.Error { return apperr.FromSignalR(err) }

// authorizeBroadcast applies BROADCAST_REQUIRE_AUTH and
// BROADCAST_REQUIRED_ROLE on top of the host's function key.
func (s *Server) authorizeBroadcast(r *http.Request) error {
	if !s.cfg.BroadcastRequireAuth && s.cfg.BroadcastRequiredRole == "" {
		return nil
	}
	// The same resolver as negotiate: an invalid credential, or none while
	// anonymous negotiate is refused, is already an error here.
	p, err := s.identity.Resolve(r)
	if err != nil && apperr.Code(err) != apperr.CodeNegotiateUnauthenticated {
		return err
	}
	if err != nil || p.UserID == "" {
		return apperr.New(apperr.CodeBroadcastUnauthenticated, "broadcast requires an authenticated caller (BROADCAST_REQUIRE_AUTH or BROADCAST_REQUIRED_ROLE is set)", "")
	}
	if role := s.cfg.BroadcastRequiredRole; role != "" && !p.HasRole(role) {
		return apperr.New(apperr.CodeAuthForbidden, fmt.Sprintf("broadcast requires the role %q", role), "")
	}
	return nil
}

// failWith writes err's JSON error body with extra fields beside "error".
func (s *Server) failWith(w http.ResponseWriter, r *http.Request, e *apperr.Error, summary broadcastResult) {
	status := apperr.Status(e.Code)
	s.logFailure(r, e, status)
	writeJSON(w, status, struct {
		apperr.Body
		Result broadcastResult `json:"result"`
	}{e.Body(), summary})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		apperr.Write(w, apperr.Wrap(err, apperr.CodeInternal, "the response could not be encoded"))
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
