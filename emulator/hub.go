package emulator

import (
	"regexp"
	"strings"
	"time"
)

// hubNamePattern is the service's rule for hub and application names.
var hubNamePattern = regexp.MustCompile("^[A-Za-z][A-Za-z0-9_`,.\\[\\]]{0,127}$")

// validName reports whether s is a valid hub or application name.
func validName(s string) bool { return hubNamePattern.MatchString(s) }

// hubKey is the key of a hub: lower-cased, prefixed with the lower-cased
// application name and "_" when there is one (what clients put in ?hub=).
func hubKey(app, hub string) string {
	if app != "" {
		return strings.ToLower(app) + "_" + strings.ToLower(hub)
	}
	return strings.ToLower(hub)
}

// hub is the state of one hub. All fields are guarded by Emulator.mu.
type hub struct {
	conns map[string]*conn
	users map[string]map[*conn]struct{}
	// groups holds connection-level memberships.
	groups map[string]map[*conn]struct{}
	// userGroups holds user-level memberships (PUT user→group with ttl
	// absent or > 0): they apply to every current and future connection of
	// the user until expiry (zero time = never).
	userGroups  map[string]map[string]time.Time // user → group → expiry
	groupsUsers map[string]map[string]time.Time // group → user → expiry
}

func newHub() *hub {
	return &hub{
		conns:       map[string]*conn{},
		users:       map[string]map[*conn]struct{}{},
		groups:      map[string]map[*conn]struct{}{},
		userGroups:  map[string]map[string]time.Time{},
		groupsUsers: map[string]map[string]time.Time{},
	}
}

func (h *hub) empty() bool {
	return len(h.conns) == 0 && len(h.userGroups) == 0
}

func addTo[K comparable, V any](m map[string]map[K]V, key string, k K, v V) {
	inner := m[key]
	if inner == nil {
		inner = map[K]V{}
		m[key] = inner
	}
	inner[k] = v
}

func removeFrom[K comparable, V any](m map[string]map[K]V, key string, k K) {
	if inner := m[key]; inner != nil {
		delete(inner, k)
		if len(inner) == 0 {
			delete(m, key)
		}
	}
}

func (h *hub) add(c *conn) {
	h.conns[c.id] = c
	if c.user != "" {
		addTo(h.users, c.user, c, struct{}{})
	}
}

func (h *hub) remove(c *conn) {
	if h.conns[c.id] != c {
		return
	}
	delete(h.conns, c.id)
	if c.user != "" {
		removeFrom(h.users, c.user, c)
	}
	for g := range c.groups {
		removeFrom(h.groups, g, c)
	}
	c.groups = nil
}

func (h *hub) addConnToGroup(c *conn, group string) {
	addTo(h.groups, group, c, struct{}{})
	if c.groups == nil {
		c.groups = map[string]struct{}{}
	}
	c.groups[group] = struct{}{}
}

func (h *hub) removeConnFromGroup(c *conn, group string) {
	removeFrom(h.groups, group, c)
	delete(c.groups, group)
}

// live reports whether a user-level membership with this expiry is in force.
func live(exp, now time.Time) bool { return exp.IsZero() || now.Before(exp) }

// addUserToGroup implements PUT users/{u}/groups/{g}: ttl < 0 means no ttl
// (kept until removed), ttl == 0 adds only the current connections, ttl > 0
// keeps the membership for that long (for current and future connections).
func (h *hub) addUserToGroup(user, group string, ttl time.Duration, now time.Time) {
	if ttl == 0 {
		for c := range h.users[user] {
			h.addConnToGroup(c, group)
		}
		return
	}
	var exp time.Time
	if ttl > 0 {
		exp = now.Add(ttl)
	}
	addTo(h.userGroups, user, group, exp)
	addTo(h.groupsUsers, group, user, exp)
}

// removeUserFromGroup removes the user-level membership and the user's
// current connections from the group.
func (h *hub) removeUserFromGroup(user, group string) {
	removeFrom(h.userGroups, user, group)
	removeFrom(h.groupsUsers, group, user)
	for c := range h.users[user] {
		h.removeConnFromGroup(c, group)
	}
}

func (h *hub) removeUserFromAllGroups(user string) {
	for g := range h.userGroups[user] {
		removeFrom(h.groupsUsers, g, user)
	}
	delete(h.userGroups, user)
	for c := range h.users[user] {
		for g := range c.groups {
			h.removeConnFromGroup(c, g)
		}
	}
}

// userInGroup reports whether the user is in the group: a live user-level
// membership, or one of its connections in the group.
func (h *hub) userInGroup(user, group string, now time.Time) bool {
	if exp, ok := h.userGroups[user][group]; ok && live(exp, now) {
		return true
	}
	for c := range h.users[user] {
		if _, ok := c.groups[group]; ok {
			return true
		}
	}
	return false
}

// groupMembers returns the connections that receive a message to group.
func (h *hub) groupMembers(group string, now time.Time) []*conn {
	direct := h.groups[group]
	users := h.groupsUsers[group]
	out := make([]*conn, 0, len(direct))
	for c := range direct {
		out = append(out, c)
	}
	if len(users) == 0 {
		return out
	}
	seen := make(map[*conn]struct{}, len(direct))
	for c := range direct {
		seen[c] = struct{}{}
	}
	for u, exp := range users {
		if !live(exp, now) {
			continue
		}
		for c := range h.users[u] {
			if _, dup := seen[c]; !dup {
				seen[c] = struct{}{}
				out = append(out, c)
			}
		}
	}
	return out
}

// pruneExpired drops user-level memberships that have expired.
func (h *hub) pruneExpired(now time.Time) {
	for u, groups := range h.userGroups {
		for g, exp := range groups {
			if !live(exp, now) {
				removeFrom(h.userGroups, u, g)
				removeFrom(h.groupsUsers, g, u)
			}
		}
	}
}
