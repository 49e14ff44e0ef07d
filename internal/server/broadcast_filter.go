package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
	"github.com/serverless-signalr/functions-go/signalr/filter"
)

// Broadcast items with a "filter" (OData, the grammar of signalr/filter)
// go through the service's POST /api/hubs/{hub}/:execute (api-version
// 2023-07-01):
//
//   - a message {target, arguments, filter, groupName?, excluded?} is sent to
//     the connections the filter selects; groupName narrows it to the
//     group's members ('g' in groups and (filter)), excluded removes those
//     connection ids (not (connectionId in (...)));
//   - a group action {action: add|remove, groupName, filter} joins or
//     removes the selected connections (JoinGroup / LeaveGroup).
//
// filter with userId or connectionId is refused (write them in the filter),
// and so are ttl and removeAll with a filter: there is no such command. The
// filter is parsed while the body is validated, before anything is sent.

// Routes of filtered items.
const (
	routeFilter       = "filter"
	routeFilterAdd    = "filterAdd"
	routeFilterRemove = "filterRemove"
)

// validateFilter checks it.Filter and sets the route and the filter to send;
// it is called for items that have one, after the item's own checks.
func (it *outputItem) validateFilter() *apperr.Error {
	f, err := filter.Parse(it.Filter)
	if err != nil {
		return apperr.New(apperr.CodeBroadcastInvalidFilter, "filter: "+err.Error(), "")
	}
	if it.UserID != "" || it.ConnectionID != "" {
		return apperr.New(apperr.CodeBroadcastFilterConflict,
			"filter cannot be combined with userId or connectionId: the filter selects the connections", "")
	}
	e := f.Expr()
	if it.kind == kindGroupAction {
		switch it.route {
		case "add":
			it.route = routeFilterAdd
		case "remove":
			it.route = routeFilterRemove
		default:
			return apperr.New(apperr.CodeBroadcastFilterConflict, "a filtered group action is add or remove; removeAll takes a userId or connectionId", "")
		}
		if it.TTL != nil {
			return apperr.New(apperr.CodeBroadcastFilterConflict, "ttl applies only to adding a user (userId) to a group, not to filtered connections", "")
		}
	} else {
		if it.GroupName != "" {
			e = filter.And(filter.InGroup(it.GroupName), e)
		}
		if len(it.Excluded) > 0 {
			ids := make([]filter.Expr, len(it.Excluded))
			for i, id := range it.Excluded {
				ids[i] = filter.String(id)
			}
			e = filter.And(e, filter.Not(filter.In(filter.ConnectionID, ids...)))
		}
		it.route = routeFilter
	}
	it.Filter = e.String()
	return nil
}

// applyFilter performs a filtered item on one endpoint.
func applyFilter(ctx context.Context, c *signalr.Client, hub string, it *outputItem) error {
	var cmd signalr.Command
	switch it.route {
	case routeFilter:
		cmd = signalr.SendMessageCommand(signalr.Message{Target: it.Target, Arguments: it.Arguments})
	case routeFilterAdd:
		cmd = signalr.JoinGroupCommand(it.GroupName)
	case routeFilterRemove:
		cmd = signalr.LeaveGroupCommand(it.GroupName)
	default:
		return fmt.Errorf("unknown route %q", it.route)
	}
	_, err := c.Execute(ctx, hub, []signalr.Command{cmd}, &signalr.ExecuteOptions{Filter: it.Filter})
	return featureError(err, "filters (:execute, api-version 2023-07-01)")
}

// featureError turns the service's 404 without an error code (no such
// route: the api-version is not offered there) into
// service.feature_unavailable naming the feature; other errors pass.
func featureError(err error, feature string) error {
	var re *signalr.ResponseError
	if errors.As(err, &re) && re.StatusCode == 404 && re.ErrorCode == "" {
		return apperr.Wrap(err, apperr.CodeServiceFeatureMissing,
			"the service answered 404 to "+feature+": it does not offer this api-version in its region or tier")
	}
	return err
}
