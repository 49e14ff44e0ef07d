package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// maxGroupLen is the service's group name limit.
const maxGroupLen = 1024

// handleREST serves /api/...
func (e *Emulator) handleREST(w http.ResponseWriter, r *http.Request) {
	rt, err := parseRESTPath(r.Method, r.URL.EscapedPath())
	if err != nil {
		var re *routeError
		if errors.As(err, &re) {
			if re.allow != "" {
				w.Header().Set("Allow", re.allow)
			}
			code := codeNotFound
			switch re.status {
			case http.StatusMethodNotAllowed:
				code = codeMethodNotAllowed
			case http.StatusBadRequest:
				code = codeInvalidRequest
			}
			writeError(w, r, re.status, code, "", re.msg)
		}
		return
	}
	if !checkAPIVersion(w, r, rt) {
		return
	}
	if rt.op == opHealth {
		w.WriteHeader(http.StatusOK)
		return
	}
	raw := bearerToken(r, false)
	if raw == "" {
		writeUnauthorized(w, r, missingTokenMessage(false))
		return
	}
	if _, err := e.validate(raw, checkRESTAudience(r)); err != nil {
		writeUnauthorized(w, r, err.Error())
		return
	}
	if rt.op == opAccessKey {
		// There is no Entra in the emulator: a caller holding a valid server
		// token gets the emulator's own key, which is what the 2023-07-01
		// API returns for an Entra caller.
		writeJSON(w, map[string]string{"KeyId": "emulator", "AccessKey": e.accessKey})
		return
	}

	app := r.URL.Query().Get("application")
	if app != "" && !validName(app) {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "application", "invalid application name: it must match ^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$")
		return
	}
	if !validName(rt.hub) {
		writeError(w, r, http.StatusBadRequest, codeInvalidHubName, "hub", "invalid hub name: it must match ^[A-Za-z][A-Za-z0-9_`,.[\\]]{0,127}$")
		return
	}
	if rt.group != "" && (len(rt.group) > maxGroupLen || strings.TrimSpace(rt.group) == "") {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "group", "invalid group name: 1 to 1024 characters, not only whitespace")
		return
	}
	key := hubKey(app, rt.hub)
	switch rt.op {
	case opGenerateToken:
		e.restGenerateToken(w, r, key)
	case opBroadcast, opSendUser, opSendConn, opSendGroup:
		e.restSend(w, r, key, rt)
	case opCloseAll, opCloseUser, opCloseGroup, opCloseConn:
		e.restClose(w, r, key, rt)
	case opExecute:
		e.restExecute(w, r, key)
	case opListGroup:
		e.restListGroup(w, r, key, rt.group)
	case opInvoke:
		e.restInvoke(w, r, key, rt.conn)
	case opStreamSend, opStreamComplete:
		e.restStream(w, r, key, rt)
	default:
		e.restMembership(w, r, key, rt)
	}
}

// payload is the body of a send: target and arguments, keys compared
// case-insensitively (the .NET SDK writes Target/Arguments).
type payload struct {
	target string
	args   []json.RawMessage
}

func decodePayload(body []byte) (payload, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return payload{}, errors.New("the body must be a JSON object {\"target\":\"<method>\",\"arguments\":[...]}")
	}
	var p payload
	var haveTarget bool
	for k, v := range m {
		switch strings.ToLower(k) {
		case "target":
			if err := json.Unmarshal(v, &p.target); err != nil {
				return payload{}, errors.New("\"target\" must be a string")
			}
			haveTarget = true
		case "arguments":
			if string(v) == "null" {
				continue
			}
			if err := json.Unmarshal(v, &p.args); err != nil {
				return payload{}, errors.New("\"arguments\" must be an array")
			}
		}
	}
	if !haveTarget || p.target == "" {
		return payload{}, errors.New("\"target\" is required: the name of the client method to invoke")
	}
	return p, nil
}

func excludedSet(r *http.Request) map[string]struct{} {
	ex := r.URL.Query()["excluded"]
	if len(ex) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(ex))
	for _, id := range ex {
		m[id] = struct{}{}
	}
	return m
}

// readBody reads a REST body within the size limit, answering 413/400 itself.
func (e *Emulator) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, http.StatusRequestEntityTooLarge, codePayloadTooLarge, "body",
				fmt.Sprintf("the body exceeds %d bytes, the REST API's message size limit", e.maxBody))
			return nil, false
		}
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "body", "could not read the body")
		return nil, false
	}
	return body, true
}

// restSend serves the four sends: one protocol-neutral message is queued to
// every recipient and encoded at most once per protocol.
func (e *Emulator) restSend(w http.ResponseWriter, r *http.Request, key string, rt restRoute) {
	body, ok := e.readBody(w, r)
	if !ok {
		return
	}
	var rec *outMessage
	var err error
	if isBinaryPayload(r) {
		rec, err = decodeBinaryPayload(body)
	} else {
		var p payload
		p, err = decodePayload(body)
		rec = newInvocation(p.target, p.args)
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "body", err.Error())
		return
	}
	ex := excludedSet(r)
	now := e.now()
	send := func(c *conn) {
		if _, skip := ex[c.id]; !skip {
			c.enqueue(rec)
		}
	}
	e.mu.RLock()
	if h := e.hubs[key]; h != nil {
		switch rt.op {
		case opBroadcast:
			for _, c := range h.conns {
				send(c)
			}
		case opSendUser:
			for c := range h.users[rt.user] {
				send(c)
			}
		case opSendConn:
			if c := h.conns[rt.conn]; c != nil {
				send(c)
			}
		case opSendGroup:
			for _, c := range h.groupMembers(rt.group, now) {
				send(c)
			}
		}
	}
	e.mu.RUnlock()
	w.WriteHeader(http.StatusAccepted)
}

// restClose serves the close operations; reason becomes the error of the
// Close message clients receive.
func (e *Emulator) restClose(w http.ResponseWriter, r *http.Request, key string, rt restRoute) {
	reason := r.URL.Query().Get("reason")
	ex := excludedSet(r)
	now := e.now()
	var targets []*conn
	e.mu.RLock()
	if h := e.hubs[key]; h != nil {
		switch rt.op {
		case opCloseAll:
			for _, c := range h.conns {
				targets = append(targets, c)
			}
		case opCloseUser:
			for c := range h.users[rt.user] {
				targets = append(targets, c)
			}
		case opCloseGroup:
			targets = h.groupMembers(rt.group, now)
		case opCloseConn:
			if c := h.conns[rt.conn]; c != nil {
				targets = append(targets, c)
			}
		}
	}
	e.mu.RUnlock()
	if rt.op == opCloseConn {
		if len(targets) == 0 {
			writeError(w, r, http.StatusNotFound, codeWarnConnNotExisted, "connectionId", "connection does not exist in this hub")
			return
		}
		e.closeConns(key, targets, reason)
		w.WriteHeader(legacyStatus(rt, http.StatusOK))
		return
	}
	kept := targets[:0]
	for _, c := range targets {
		if _, skip := ex[c.id]; !skip {
			kept = append(kept, c)
		}
	}
	e.closeConns(key, kept, reason)
	w.WriteHeader(http.StatusNoContent)
}

// closeConns asks each connection to close with reason (after flushing what
// is queued) and unregisters it at once, so existence checks right after the
// REST call answer 404.
func (e *Emulator) closeConns(key string, cs []*conn, reason string) {
	if len(cs) == 0 {
		return
	}
	for _, c := range cs {
		c.requestClose(reason, true, websocket.StatusNormalClosure)
	}
	e.mu.Lock()
	if h := e.hubs[key]; h != nil {
		for _, c := range cs {
			h.remove(c)
		}
		e.dropIfEmpty(key, h)
	}
	e.mu.Unlock()
}

// restMembership serves existence checks and group membership.
func (e *Emulator) restMembership(w http.ResponseWriter, r *http.Request, key string, rt restRoute) {
	var ttl time.Duration = -1
	if rt.op == opUserJoinGroup {
		if s := r.URL.Query().Get("ttl"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "ttl", "ttl must be a whole number of seconds >= 0")
				return
			}
			ttl = time.Duration(n) * time.Second
		}
	}
	now := e.now()
	writes := rt.op == opUserJoinGroup || rt.op == opUserLeaveGroup || rt.op == opUserLeaveAll ||
		rt.op == opConnJoinGroup || rt.op == opConnLeaveGroup || rt.op == opConnLeaveAll
	if writes {
		e.mu.Lock()
		defer e.mu.Unlock()
	} else {
		e.mu.RLock()
		defer e.mu.RUnlock()
	}
	h := e.hubs[key]
	if h == nil {
		if !writes {
			h = newHub() // read-only view of an empty hub
		} else {
			h = newHub()
			e.hubs[key] = h
		}
	}
	switch rt.op {
	case opConnExists:
		if h.conns[rt.conn] == nil {
			writeError(w, r, http.StatusNotFound, codeWarnConnNotExisted, "connectionId", "connection does not exist in this hub")
			return
		}
		w.WriteHeader(http.StatusOK)
	case opUserExists:
		if len(h.users[rt.user]) == 0 {
			writeError(w, r, http.StatusNotFound, codeWarnUserNotExisted, "user", "the user has no connection in this hub")
			return
		}
		w.WriteHeader(http.StatusOK)
	case opGroupExists:
		if len(h.groupMembers(rt.group, now)) == 0 {
			writeError(w, r, http.StatusNotFound, codeWarnGroupNotExisted, "group", "the group has no connection in this hub")
			return
		}
		w.WriteHeader(http.StatusOK)
	case opUserInGroup:
		if !h.userInGroup(rt.user, rt.group, now) {
			writeError(w, r, http.StatusNotFound, codeInfoUserNotInGroup, "user", "the user is not in the group")
			return
		}
		w.WriteHeader(http.StatusOK)
	case opConnJoinGroup:
		c := h.conns[rt.conn]
		if c == nil {
			e.dropIfEmpty(key, h)
			writeError(w, r, http.StatusNotFound, codeErrConnNotExisted, "connectionId", "connection does not exist in this hub")
			return
		}
		h.addConnToGroup(c, rt.group)
		w.WriteHeader(legacyStatus(rt, http.StatusOK))
	case opConnLeaveGroup:
		if c := h.conns[rt.conn]; c != nil {
			h.removeConnFromGroup(c, rt.group)
		}
		e.dropIfEmpty(key, h)
		w.WriteHeader(legacyStatus(rt, http.StatusOK))
	case opConnLeaveAll:
		if c := h.conns[rt.conn]; c != nil {
			for g := range c.groups {
				h.removeConnFromGroup(c, g)
			}
		}
		e.dropIfEmpty(key, h)
		w.WriteHeader(legacyStatus(rt, http.StatusOK))
	case opUserJoinGroup:
		h.pruneExpired(now)
		h.addUserToGroup(rt.user, rt.group, ttl, now)
		e.dropIfEmpty(key, h)
		w.WriteHeader(legacyStatus(rt, http.StatusOK))
	case opUserLeaveGroup:
		h.removeUserFromGroup(rt.user, rt.group)
		e.dropIfEmpty(key, h)
		w.WriteHeader(legacyStatus(rt, http.StatusNoContent))
	case opUserLeaveAll:
		h.removeUserFromAllGroups(rt.user)
		e.dropIfEmpty(key, h)
		w.WriteHeader(legacyStatus(rt, http.StatusNoContent))
	}
}

// dropIfEmpty forgets a hub with no state; e.mu must be held for writing.
func (e *Emulator) dropIfEmpty(key string, h *hub) {
	if h.empty() && e.hubs[key] == h {
		delete(e.hubs, key)
	}
}

// restGenerateToken serves POST /api/hubs/{hub}/:generateToken: a client
// token for this emulator (aud = client URL of the request host).
func (e *Emulator) restGenerateToken(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	minutes := 60
	if s := q.Get("minutesToExpire"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "minutesToExpire", "minutesToExpire must be a whole number >= 1")
			return
		}
		minutes = n
	}
	now := e.now()
	claims := jwt.MapClaims{
		"aud": clientAudience(r, key).String(),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Duration(minutes) * time.Minute).Unix(),
	}
	if uid := q.Get("userId"); uid != "" {
		claims["asrs.s.uid"] = uid
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(e.key)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "Error.Internal", "", "could not sign the token")
		return
	}
	writeJSON(w, map[string]string{"token": tok})
}
