package signalr

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// GroupMember is one connection in a group (the swagger's GroupMember).
type GroupMember struct {
	ConnectionID string `json:"connectionId"`
	// UserID is "" for an anonymous connection.
	UserID string `json:"userId,omitempty"`
}

// ListConnectionsInGroupOptions are the optional parameters of
// [Client.NewListConnectionsInGroupPager].
type ListConnectionsInGroupOptions struct {
	// MaxPageSize is the most members per page, 1 to 200; 0 lets the
	// service choose (200).
	MaxPageSize int32
	// Top is the most members over all pages; 0 means all of them.
	Top int32
	// Application overrides ClientOptions.Application.
	Application string
}

// ListConnectionsInGroupResponse is one page (the swagger's
// GroupMemberPagedValues).
type ListConnectionsInGroupResponse struct {
	Value []GroupMember `json:"value"`
	// NextLink is the absolute URL of the next page; nil on the last page.
	NextLink *string `json:"nextLink,omitempty"`
}

// NewListConnectionsInGroupPager lists the connections in group, a page
// at a time: GET /api/hubs/{hub}/groups/{group}/connections (api-version
// 2024-12-01) and then each nextLink. Only the path and query of a nextLink
// are used: the request always goes to the client's own endpoint, so a
// token never leaves it. Argument errors come from the first NextPage.
func (c *Client) NewListConnectionsInGroupPager(hub, group string, opts *ListConnectionsInGroupOptions) *runtime.Pager[ListConnectionsInGroupResponse] {
	var o ListConnectionsInGroupOptions
	if opts != nil {
		o = *opts
	}
	first, err := path().hub(hub).group(group).lit("/connections").done()
	if err == nil {
		_, err = appArg(o.Application)
	}
	switch {
	case err != nil:
	case o.MaxPageSize < 0 || o.MaxPageSize > 200:
		err = &ArgumentError{Name: ArgPageSize, Reason: "must be from 1 to 200 (0 for the service's default)"}
	case o.Top < 0:
		err = &ArgumentError{Name: ArgTop, Reason: "must not be negative (0 for all)"}
	}
	q := url.Values{}
	if o.MaxPageSize > 0 {
		q.Set("maxpagesize", strconv.Itoa(int(o.MaxPageSize)))
	}
	if o.Top > 0 {
		q.Set("top", strconv.Itoa(int(o.Top)))
	}
	return runtime.NewPager(runtime.PagingHandler[ListConnectionsInGroupResponse]{
		More: func(page ListConnectionsInGroupResponse) bool {
			return page.NextLink != nil && *page.NextLink != ""
		},
		Fetcher: func(ctx context.Context, page *ListConnectionsInGroupResponse) (ListConnectionsInGroupResponse, error) {
			if err != nil {
				return ListConnectionsInGroupResponse{}, err
			}
			k := call{op: "ListConnectionsInGroup", method: http.MethodGet, path: first,
				apiVersion: APIVersion20241201, query: q, ok: statusOK, app: o.Application}
			if page != nil {
				next, lerr := c.nextLinkCall(k, *page.NextLink)
				if lerr != nil {
					return ListConnectionsInGroupResponse{}, lerr
				}
				k = next
			}
			resp, err := c.do(ctx, k)
			if err != nil {
				return ListConnectionsInGroupResponse{}, err
			}
			var r ListConnectionsInGroupResponse
			if err := runtime.UnmarshalAsJSON(resp, &r); err != nil {
				return ListConnectionsInGroupResponse{}, c.badBody(k.op, err)
			}
			if r.Value == nil {
				r.Value = []GroupMember{}
			}
			return r, nil
		},
	})
}

// nextLinkCall turns a nextLink into the call for the next page: its path
// (which must be the listing's, under /api/) and query, with api-version
// and application taken out into the call so the token's audience has them.
func (c *Client) nextLinkCall(k call, link string) (call, error) {
	u, err := url.Parse(link)
	bad := func(why string) (call, error) {
		return call{}, c.badBody(k.op, errors.New("nextLink "+strconv.Quote(clipLink(link))+" "+why))
	}
	if err != nil {
		return bad("is not a URL")
	}
	p, ok := strings.CutPrefix(u.EscapedPath(), "/api/")
	got, err1 := url.PathUnescape(p)
	want, err2 := url.PathUnescape(k.path)
	if !ok || err1 != nil || err2 != nil || !strings.EqualFold(got, want) {
		return bad("does not continue this listing")
	}
	q := u.Query()
	if v := q.Get("api-version"); v != "" {
		k.apiVersion = v
	}
	if a := q.Get("application"); a != "" {
		if _, err := appArg(a); err != nil {
			return bad("names an invalid application")
		}
		k.app = a
	}
	q.Del("api-version")
	q.Del("application")
	k.path = p
	k.query = q
	return k, nil
}

func clipLink(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
