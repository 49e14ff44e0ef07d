package emulator_test

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/emulator"
)

const apiV2024 = "api-version=2024-12-01"

type memberPage struct {
	Value []struct {
		ConnectionID string  `json:"connectionId"`
		UserID       *string `json:"userId"`
	} `json:"value"`
	NextLink *string `json:"nextLink"`
}

// listPage GETs one page (path and query, as from a nextLink).
func (e *env) listPage(path, query string) memberPage {
	e.t.Helper()
	r := e.rest("GET", path, query, "")
	if r.status != 200 {
		e.t.Fatalf("GET %s?%s: %d %s", path, query, r.status, r.body)
	}
	var p memberPage
	if err := json.Unmarshal(r.body, &p); err != nil || p.Value == nil {
		e.t.Fatalf("page %s: %v (value must be an array)", r.body, err)
	}
	return p
}

// follow splits a nextLink into path and query, checking it is absolute and
// points at this emulator.
func (e *env) follow(link string) (string, string) {
	e.t.Helper()
	u, err := url.Parse(link)
	if err != nil || !u.IsAbs() || !strings.HasPrefix(link, e.srv.URL+"/") {
		e.t.Fatalf("nextLink %q is not an absolute URL of %s", link, e.srv.URL)
	}
	return u.EscapedPath(), u.RawQuery
}

func (e *env) join(hub, group string, cs ...*client) {
	e.t.Helper()
	for _, c := range cs {
		if r := e.rest("PUT", "/api/hubs/"+hub+"/groups/"+group+"/connections/"+c.id, apiV, ""); r.status != 200 {
			e.t.Fatalf("join: %d", r.status)
		}
	}
}

func TestListGroupPages(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	var cs []*client
	for _, u := range []string{"u0", "u1", "u2", "u3", "u4"} {
		cs = append(cs, e.connect("chat", u, false))
	}
	cs = append(cs, e.connect("chat", "", false)) // anonymous: no userId
	outsider := e.connect("chat", "out", false)
	e.join("chat", "room", cs...)
	users := map[string]string{}
	for i, c := range cs {
		users[c.id] = []string{"u0", "u1", "u2", "u3", "u4", ""}[i]
	}

	path, query := "/api/hubs/chat/groups/room/connections", apiV2024+"&maxpagesize=2"
	seen := map[string]bool{}
	var pages int
	for {
		p := e.listPage(path, query)
		pages++
		if len(p.Value) > 2 {
			t.Fatalf("page of %d > maxpagesize 2", len(p.Value))
		}
		for _, m := range p.Value {
			if seen[m.ConnectionID] {
				t.Fatalf("connection %s listed twice", m.ConnectionID)
			}
			seen[m.ConnectionID] = true
			want, ok := users[m.ConnectionID]
			if !ok {
				t.Fatalf("listed %s, not a member (outsider %s)", m.ConnectionID, outsider.id)
			}
			if (want == "") != (m.UserID == nil) || m.UserID != nil && *m.UserID != want {
				t.Fatalf("connection %s: userId %v, want %q", m.ConnectionID, m.UserID, want)
			}
		}
		if p.NextLink == nil {
			break
		}
		if !strings.Contains(*p.NextLink, "api-version=2024-12-01") || !strings.Contains(*p.NextLink, "maxpagesize=2") {
			t.Fatalf("nextLink %q lost the query", *p.NextLink)
		}
		path, query = e.follow(*p.NextLink)
	}
	if len(seen) != len(cs) || pages != 3 {
		t.Fatalf("listed %d members in %d pages, want %d in 3", len(seen), pages, len(cs))
	}

	// top bounds the total across pages.
	total := 0
	path, query = "/api/hubs/chat/groups/room/connections", apiV2024+"&maxpagesize=2&top=3"
	for {
		p := e.listPage(path, query)
		total += len(p.Value)
		if p.NextLink == nil {
			break
		}
		path, query = e.follow(*p.NextLink)
	}
	if total != 3 {
		t.Fatalf("top=3 listed %d", total)
	}

	// Default page size holds them all; an unknown group is an empty page.
	if p := e.listPage("/api/hubs/chat/groups/room/connections", apiV2024); len(p.Value) != len(cs) || p.NextLink != nil {
		t.Fatalf("default page: %d members, nextLink %v", len(p.Value), p.NextLink)
	}
	if p := e.listPage("/api/hubs/chat/groups/nobody/connections", apiV2024); len(p.Value) != 0 || p.NextLink != nil {
		t.Fatalf("empty group: %+v", p)
	}
}

func TestListGroupContinuationSurvivesChanges(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	var cs []*client
	for range 6 {
		cs = append(cs, e.connect("chat", "u", false))
	}
	e.join("chat", "room", cs...)
	ids := make([]string, len(cs))
	byID := map[string]*client{}
	for i, c := range cs {
		ids[i] = c.id
		byID[c.id] = c
	}
	sort.Strings(ids)

	p := e.listPage("/api/hubs/chat/groups/room/connections", apiV2024+"&maxpagesize=3")
	if len(p.Value) != 3 || p.NextLink == nil {
		t.Fatalf("first page: %+v", p)
	}
	seen := map[string]bool{}
	for _, m := range p.Value {
		seen[m.ConnectionID] = true
	}
	// Between pages: a listed member leaves, an unlisted one leaves, and a
	// listed one leaves and joins again.
	leave := func(id string) {
		if r := e.rest("DELETE", "/api/hubs/chat/groups/room/connections/"+id, apiV, ""); r.status != 200 {
			t.Fatalf("leave: %d", r.status)
		}
	}
	leave(ids[0])
	leave(ids[4])
	leave(ids[1])
	e.join("chat", "room", byID[ids[1]])

	path, query := e.follow(*p.NextLink)
	for {
		p := e.listPage(path, query)
		for _, m := range p.Value {
			if seen[m.ConnectionID] {
				t.Fatalf("%s listed again after membership changes", m.ConnectionID)
			}
			if m.ConnectionID == ids[4] {
				t.Fatalf("%s listed after it left", m.ConnectionID)
			}
			seen[m.ConnectionID] = true
		}
		if p.NextLink == nil {
			break
		}
		path, query = e.follow(*p.NextLink)
	}
	for _, id := range []string{ids[2], ids[3], ids[5]} {
		if !seen[id] {
			t.Fatalf("%s stayed in the group but was skipped", id)
		}
	}
}

func TestListGroupBadParameters(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for _, q := range []string{"maxpagesize=0", "maxpagesize=201", "maxpagesize=x", "top=0", "top=2147483648", "continuationToken=%21%21"} {
		r := e.rest("GET", "/api/hubs/chat/groups/room/connections", apiV2024+"&"+q, "")
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400", q, r.status)
			continue
		}
		if d := r.errorDetail(t); d.Code != "Error.InvalidRequest" || !strings.HasPrefix(q, d.Target) {
			t.Errorf("%s: %+v", q, d)
		}
	}
}

func TestListGroupApplication(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	a := e.connect("app1_chat", "u", false)
	b := e.connect("chat", "u", false)
	if r := e.rest("PUT", "/api/hubs/chat/groups/room/connections/"+a.id, apiV+"&application=app1", ""); r.status != 200 {
		t.Fatalf("join: %d", r.status)
	}
	e.join("chat", "room", b)
	p := e.listPage("/api/hubs/chat/groups/room/connections", apiV2024+"&application=app1")
	if len(p.Value) != 1 || p.Value[0].ConnectionID != a.id {
		t.Fatalf("app1 members: %+v, want only %s", p.Value, a.id)
	}
}
