package emulator

import (
	"encoding/base64"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// GET /api/hubs/{hub}/groups/{group}/connections (api-version 2024-12-01):
// the members of a group, a page at a time, as the swagger's
// HubProxyV20241201_ListConnectionsInGroup describes it (Azure/azure-signalr
// docs/swagger/v20241201.json and examples/HubProxyV20241201_ListConnectionsInGroup.json):
// maxpagesize 1–200 (default 200), top 1–2147483647 (all when absent),
// continuationToken from the previous page; the answer is
// {"value":[{"connectionId","userId"}],"nextLink"} with nextLink an absolute
// URL, present while more members remain.
//
// Members are listed in connection id order and the continuation token is
// the last id returned, so a token keeps working while members come and go:
// the next page starts after that id, never repeats a member and never skips
// one that stayed. nextLink carries top minus what was already returned, so
// following every link returns at most top members in all.

const (
	maxGroupPageSize     = 200
	defaultGroupPageSize = 200
)

// groupMember is the swagger's GroupMember.
type groupMember struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId,omitempty"`
}

// groupMemberPage is the swagger's GroupMemberPagedValues.
type groupMemberPage struct {
	Value    []groupMember `json:"value"`
	NextLink string        `json:"nextLink,omitempty"`
}

func encodeContinuation(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastID))
}

func decodeContinuation(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err == nil && len(b) > 0
}

// intParam reads an optional integer query parameter in [lo, hi].
func intParam(q url.Values, name string, lo, hi int) (v int, set, ok bool) {
	s := q.Get(name)
	if s == "" {
		return 0, false, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, true, false
	}
	return n, true, true
}

// restListGroup serves the group listing.
func (e *Emulator) restListGroup(w http.ResponseWriter, r *http.Request, key, group string) {
	q := r.URL.Query()
	pageSize, set, ok := intParam(q, "maxpagesize", 1, maxGroupPageSize)
	if !ok {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "maxpagesize", "maxpagesize must be a whole number from 1 to 200")
		return
	}
	if !set {
		pageSize = defaultGroupPageSize
	}
	top, topSet, ok := intParam(q, "top", 1, math.MaxInt32)
	if !ok {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "top", "top must be a whole number from 1 to 2147483647")
		return
	}
	after := ""
	if tok := q.Get("continuationToken"); tok != "" {
		id, ok := decodeContinuation(tok)
		if !ok {
			writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "continuationToken", "continuationToken is not one this service issued: pass the nextLink of the previous page as is")
			return
		}
		after = id
	}
	limit := pageSize
	if topSet && top < limit {
		limit = top
	}

	e.mu.RLock()
	var members []groupMember
	if h := e.hubs[key]; h != nil {
		for _, c := range h.groupMembers(group, e.now()) {
			if c.id > after {
				members = append(members, groupMember{ConnectionID: c.id, UserID: c.user})
			}
		}
	}
	e.mu.RUnlock()
	slices.SortFunc(members, func(a, b groupMember) int { return strings.Compare(a.ConnectionID, b.ConnectionID) })

	page := groupMemberPage{Value: members[:min(limit, len(members))]}
	if page.Value == nil {
		page.Value = []groupMember{}
	}
	more := len(members) > len(page.Value) && (!topSet || top > len(page.Value))
	if more {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("continuationToken", encodeContinuation(page.Value[len(page.Value)-1].ConnectionID))
		if topSet {
			next.Set("top", strconv.Itoa(top-len(page.Value)))
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		page.NextLink = (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: next.Encode()}).String()
	}
	writeJSON(w, page)
}
