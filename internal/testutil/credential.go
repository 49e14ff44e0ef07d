package testutil

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Credential is a fake Microsoft Entra ID credential (an
// azcore.TokenCredential). It returns Token (with "-<n>" appended for the
// n-th call when Numbered), valid for an hour from Now (time.Now when nil);
// or Err; or, when Hang is not nil, blocks until Hang is closed, ignoring
// its context, and then fails. It records every call. Safe for concurrent
// use; set the fields before the first call.
type Credential struct {
	Token    string
	Numbered bool
	Err      error
	Hang     chan struct{}
	Now      func() time.Time

	mu          sync.Mutex
	calls       int
	scopes      []string
	hadDeadline bool
}

// GetToken implements azcore.TokenCredential.
func (c *Credential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	_, deadline := ctx.Deadline()
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.scopes, c.hadDeadline = o.Scopes, deadline
	c.mu.Unlock()
	if c.Hang != nil {
		<-c.Hang
		return azcore.AccessToken{}, errors.New("testutil.Credential: released")
	}
	if c.Err != nil {
		return azcore.AccessToken{}, c.Err
	}
	tok := c.Token
	if c.Numbered {
		tok = fmt.Sprintf("%s-%d", tok, n)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return azcore.AccessToken{Token: tok, ExpiresOn: now().Add(time.Hour)}, nil
}

// Calls returns how many times GetToken was called.
func (c *Credential) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// LastScopes returns the scopes of the last call.
func (c *Credential) LastScopes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scopes
}

// LastHadDeadline reports whether the last call's context had a deadline.
func (c *Credential) LastHadDeadline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hadDeadline
}
