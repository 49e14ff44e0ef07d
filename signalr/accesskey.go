package signalr

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Timings of the Entra ID access key cache, as in the SDK's
// MicrosoftEntraAccessKey.
const (
	keyRefreshInterval = 55 * time.Minute  // refresh a key this old
	keyRetryInterval   = 5 * time.Minute   // no new fetch sooner after a failure
	keyLifetime        = 120 * time.Minute // a key this old is not used
	keyFetchTimeout    = 100 * time.Second
)

// AccessKey returns the key that signs client access tokens. With an
// AccessKey connection string it is that key (no kid), at no cost. With
// Entra ID it is the temporary key from GET /api/v1/auth/accessKey, with
// its KeyId as the kid: the first caller waits for the first fetch; later
// callers get the cached key at once while a refresh runs in the
// background (every 55 minutes, no sooner than 5 minutes after a failure).
// A key whose last successful fetch is 120 minutes old is no longer used;
// callers then wait for a new fetch.
func (c *Client) AccessKey(ctx context.Context) (AccessKey, error) {
	if !c.entra {
		return c.key, nil
	}
	return c.keys.get(ctx)
}

func (c *Client) fetchAccessKey(ctx context.Context) (AccessKey, error) {
	r, err := c.GetAccessKey(ctx, nil)
	return r.Key, err
}

// keyCache caches one fetched key. All times come from now.
type keyCache struct {
	fetch func(context.Context) (AccessKey, error)
	now   func() time.Time
	log   *slog.Logger

	mu          sync.Mutex
	key         AccessKey
	have        bool
	lastSuccess time.Time
	lastFailure time.Time
	lastErr     error
	inflight    chan struct{} // closed when the running fetch ends
}

func newKeyCache(fetch func(context.Context) (AccessKey, error), now func() time.Time, log *slog.Logger) *keyCache {
	return &keyCache{fetch: fetch, now: now, log: log}
}

func (k *keyCache) get(ctx context.Context) (AccessKey, error) {
	k.mu.Lock()
	now := k.now()
	if k.usable(now) {
		if now.Sub(k.lastSuccess) >= keyRefreshInterval && k.mayFetch(now) {
			k.startLocked()
		}
		key := k.key
		k.mu.Unlock()
		return key, nil
	}
	if k.inflight == nil {
		if !k.mayFetch(now) {
			err := k.lastErr
			k.mu.Unlock()
			return AccessKey{}, fmt.Errorf("signalr: access key unavailable (next fetch no sooner than %s after the last failure): %w", keyRetryInterval, err)
		}
		k.startLocked()
	}
	ch := k.inflight
	k.mu.Unlock()

	select {
	case <-ch:
	case <-ctx.Done():
		return AccessKey{}, fmt.Errorf("signalr: waiting for the access key: %w", ctx.Err())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.usable(k.now()) {
		return k.key, nil
	}
	return AccessKey{}, fmt.Errorf("signalr: access key unavailable: %w", k.lastErr)
}

func (k *keyCache) usable(now time.Time) bool {
	return k.have && now.Sub(k.lastSuccess) < keyLifetime
}

// mayFetch reports whether a fetch may start now; k.mu is held.
func (k *keyCache) mayFetch(now time.Time) bool {
	if k.inflight != nil {
		return false
	}
	return k.lastFailure.IsZero() || k.lastFailure.Before(k.lastSuccess) || now.Sub(k.lastFailure) >= keyRetryInterval
}

// startLocked starts a background fetch; k.mu is held.
func (k *keyCache) startLocked() {
	ch := make(chan struct{})
	k.inflight = ch
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), keyFetchTimeout)
		defer cancel()
		key, err := k.fetch(ctx)
		k.mu.Lock()
		defer k.mu.Unlock()
		if err == nil {
			k.key, k.have, k.lastSuccess = key, true, k.now()
		} else {
			k.lastFailure, k.lastErr = k.now(), err
			k.log.Warn("signalr: fetching the access key failed", "error", err)
		}
		k.inflight = nil
		close(ch)
	}()
}
