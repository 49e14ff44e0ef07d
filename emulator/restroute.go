package emulator

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// restOp is one data-plane operation.
type restOp int

const (
	opNone restOp = iota
	opHealth
	opAccessKey
	opBroadcast
	opCloseAll
	opGenerateToken
	opSendUser
	opCloseUser
	opUserExists
	opUserLeaveAll
	opUserJoinGroup
	opUserLeaveGroup
	opUserInGroup
	opSendConn
	opCloseConn
	opConnExists
	opConnLeaveAll
	opSendGroup
	opCloseGroup
	opGroupExists
	opConnJoinGroup
	opConnLeaveGroup
	opExecute        // 2023-07-01, execute.go
	opListGroup      // 2024-12-01, grouplist.go
	opInvoke         // 2024-12-01, invoke.go
	opStreamSend     // 2024-12-01, streams.go
	opStreamComplete // 2024-12-01, streams.go
)

// restRoute is a parsed REST request path.
type restRoute struct {
	op     restOp
	legacy bool // under /api/v1
	hub    string
	user   string
	group  string
	conn   string
	stream string
}

// restPattern maps a path shape (after /api[/v1]/) to operations by method.
// "{hub}", "{user}", "{group}" and "{conn}" capture one unescaped segment;
// other segments are literals compared on the escaped path.
type restPattern struct {
	segs    []string
	methods map[string]restOp
}

func pat(path string, methods map[string]restOp) restPattern {
	return restPattern{segs: strings.Split(path, "/"), methods: methods}
}

// restPatterns lists every route. Both /api/ and /api/v1/ serve all of them
// (as Microsoft's emulator does); the v1-only shapes (POST on a resource to
// send, groups/{g}/users/{u}) are included. GET is accepted wherever HEAD is.
var restPatterns = []restPattern{
	pat("health", map[string]restOp{"HEAD": opHealth, "GET": opHealth}),
	pat("auth/accessKey", map[string]restOp{"GET": opAccessKey}),
	pat("hubs/{hub}", map[string]restOp{"POST": opBroadcast}),
	pat("hubs/{hub}/:send", map[string]restOp{"POST": opBroadcast}),
	pat("hubs/{hub}/:closeConnections", map[string]restOp{"POST": opCloseAll}),
	pat("hubs/{hub}/:generateToken", map[string]restOp{"POST": opGenerateToken}),
	pat("hubs/{hub}/users/{user}", map[string]restOp{"POST": opSendUser, "HEAD": opUserExists, "GET": opUserExists}),
	pat("hubs/{hub}/users/{user}/:send", map[string]restOp{"POST": opSendUser}),
	pat("hubs/{hub}/users/{user}/:closeConnections", map[string]restOp{"POST": opCloseUser}),
	pat("hubs/{hub}/users/{user}/groups", map[string]restOp{"DELETE": opUserLeaveAll}),
	pat("hubs/{hub}/users/{user}/groups/{group}", map[string]restOp{"PUT": opUserJoinGroup, "DELETE": opUserLeaveGroup, "HEAD": opUserInGroup, "GET": opUserInGroup}),
	pat("hubs/{hub}/connections/{conn}", map[string]restOp{"POST": opSendConn, "DELETE": opCloseConn, "HEAD": opConnExists, "GET": opConnExists}),
	pat("hubs/{hub}/connections/{conn}/:send", map[string]restOp{"POST": opSendConn}),
	pat("hubs/{hub}/connections/{conn}/groups", map[string]restOp{"DELETE": opConnLeaveAll}),
	pat("hubs/{hub}/groups/{group}", map[string]restOp{"POST": opSendGroup, "HEAD": opGroupExists, "GET": opGroupExists}),
	pat("hubs/{hub}/groups/{group}/:send", map[string]restOp{"POST": opSendGroup}),
	pat("hubs/{hub}/groups/{group}/:closeConnections", map[string]restOp{"POST": opCloseGroup}),
	pat("hubs/{hub}/groups/{group}/connections/{conn}", map[string]restOp{"PUT": opConnJoinGroup, "DELETE": opConnLeaveGroup}),
	pat("hubs/{hub}/connections/{conn}/groups/{group}", map[string]restOp{"PUT": opConnJoinGroup, "DELETE": opConnLeaveGroup}), // v1's other shape
	pat("hubs/{hub}/groups/{group}/users/{user}", map[string]restOp{"PUT": opUserJoinGroup, "DELETE": opUserLeaveGroup, "HEAD": opUserInGroup, "GET": opUserInGroup}),
	pat("hubs/{hub}/:execute", map[string]restOp{"POST": opExecute}),
	pat("hubs/{hub}/groups/{group}/connections", map[string]restOp{"GET": opListGroup}),
	pat("hubs/{hub}/connections/{conn}/:invoke", map[string]restOp{"POST": opInvoke}),
	pat("hubs/{hub}/connections/{conn}/streams/{stream}/:send", map[string]restOp{"POST": opStreamSend}),
	pat("hubs/{hub}/connections/{conn}/streams/{stream}/:complete", map[string]restOp{"POST": opStreamComplete}),
}

// routeError is a path that matches no route (status 404) or a route that
// does not take the method (405, with allow).
type routeError struct {
	status int
	allow  string
	msg    string
}

func (e *routeError) Error() string { return e.msg }

var errBadEscape = errors.New("invalid percent-encoding in the path")

// parseRESTPath routes method and escapedPath (r.URL.EscapedPath(), so that
// %2F inside a segment stays inside it).
func parseRESTPath(method, escapedPath string) (restRoute, error) {
	rest, ok := strings.CutPrefix(escapedPath, "/api/")
	if !ok {
		return restRoute{}, &routeError{status: http.StatusNotFound, msg: "REST paths start with /api/"}
	}
	var rt restRoute
	if after, ok := strings.CutPrefix(rest, "v1/"); ok {
		rt.legacy = true
		rest = after
	}
	rest = strings.TrimSuffix(rest, "/")
	segs := strings.Split(rest, "/")
	for _, p := range restPatterns {
		if len(p.segs) != len(segs) {
			continue
		}
		var cap restRoute
		matched := true
		for i, ps := range p.segs {
			if strings.HasPrefix(ps, "{") {
				v, err := url.PathUnescape(segs[i])
				if err != nil {
					return restRoute{}, &routeError{status: http.StatusBadRequest, msg: errBadEscape.Error()}
				}
				if v == "" {
					matched = false
					break
				}
				switch ps {
				case "{hub}":
					cap.hub = v
				case "{user}":
					cap.user = v
				case "{group}":
					cap.group = v
				case "{conn}":
					cap.conn = v
				case "{stream}":
					cap.stream = v
				}
				continue
			}
			if segs[i] != ps {
				matched = false
				break
			}
		}
		if !matched {
			continue
		}
		op, ok := p.methods[method]
		if !ok {
			allow := make([]string, 0, len(p.methods)+1)
			for m := range p.methods {
				allow = append(allow, m)
			}
			sort.Strings(allow)
			allow = append(allow, "OPTIONS")
			return restRoute{}, &routeError{status: http.StatusMethodNotAllowed, allow: strings.Join(allow, ", "),
				msg: "method " + method + " is not allowed on this path; allowed: " + strings.Join(allow, ", ")}
		}
		cap.op = op
		cap.legacy = rt.legacy
		return cap, nil
	}
	return restRoute{}, &routeError{status: http.StatusNotFound, msg: "no REST operation at this path (see the 2022-06-01 data-plane API: /api/hubs/{hub}/:send, /api/hubs/{hub}/groups/{group}/:send, ...)"}
}
