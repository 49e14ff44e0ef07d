package signalr

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	e, err := c.keyEntry(ctx)
	if err != nil {
		return AccessKey{}, err
	}
	return e.key, nil
}

// Signer returns the [Signer] of client access tokens for the key
// [Client.AccessKey] returns, prepared once per key (with its kid), under
// the same caching rules. Negotiate endpoints sign with it.
func (c *Client) Signer(ctx context.Context) (*Signer, error) {
	e, err := c.keyEntry(ctx)
	if err != nil {
		return nil, err
	}
	return e.signer, nil
}

func (c *Client) keyEntry(ctx context.Context) (*keyEntry, error) {
	if !c.entra {
		return c.fixedKey, nil
	}
	return c.keys.get(ctx)
}

func (c *Client) fetchAccessKey(ctx context.Context) (AccessKey, error) {
	r, err := c.GetAccessKey(ctx, nil)
	return r.Key, err
}

// keyEntry is one key with its prepared signer and fetch time.
type keyEntry struct {
	key     AccessKey
	signer  *Signer
	fetched time.Time
}

func newKeyEntry(key AccessKey, fetched time.Time) (*keyEntry, error) {
	s, err := NewSigner(key)
	if err != nil {
		return nil, err
	}
	return &keyEntry{key: key, signer: s, fetched: fetched}, nil
}

// keyCache caches one fetched key. The current key sits behind an atomic
// pointer: while it is younger than the refresh interval, callers read it
// without a lock. All times come from now.
type keyCache struct {
	fetch func(context.Context) (AccessKey, error)
	now   func() time.Time
	log   *slog.Logger

	cur atomic.Pointer[keyEntry]

	mu          sync.Mutex
	lastFailure time.Time
	lastErr     error
	inflight    chan struct{} // closed when the running fetch ends
}

func newKeyCache(fetch func(context.Context) (AccessKey, error), now func() time.Time, log *slog.Logger) *keyCache {
	return &keyCache{fetch: fetch, now: now, log: log}
}

func (k *keyCache) get(ctx context.Context) (*keyEntry, error) {
	now := k.now()
	if e := k.cur.Load(); e != nil && now.Sub(e.fetched) < keyRefreshInterval {
		return e, nil // the fast path: fresh, no lock
	}
	k.mu.Lock()
	e := k.cur.Load()
	if usable(e, now) {
		if now.Sub(e.fetched) >= keyRefreshInterval && k.mayFetch(e, now) {
			k.startLocked()
		}
		k.mu.Unlock()
		return e, nil
	}
	if k.inflight == nil {
		if !k.mayFetch(e, now) {
			err := k.lastErr
			k.mu.Unlock()
			return nil, fmt.Errorf("signalr: access key unavailable (next fetch no sooner than %s after the last failure): %w", keyRetryInterval, err)
		}
		k.startLocked()
	}
	ch := k.inflight
	k.mu.Unlock()

	select {
	case <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("signalr: waiting for the access key: %w", ctx.Err())
	}
	if e := k.cur.Load(); usable(e, k.now()) {
		return e, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return nil, fmt.Errorf("signalr: access key unavailable: %w", k.lastErr)
}

func usable(e *keyEntry, now time.Time) bool {
	return e != nil && now.Sub(e.fetched) < keyLifetime
}

// mayFetch reports whether a fetch may start now; k.mu is held.
func (k *keyCache) mayFetch(e *keyEntry, now time.Time) bool {
	if k.inflight != nil {
		return false
	}
	return k.lastFailure.IsZero() || (e != nil && k.lastFailure.Before(e.fetched)) || now.Sub(k.lastFailure) >= keyRetryInterval
}

// startLocked starts a background fetch; k.mu is held.
func (k *keyCache) startLocked() {
	ch := make(chan struct{})
	k.inflight = ch
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), keyFetchTimeout)
		defer cancel()
		key, err := k.fetch(ctx)
		var e *keyEntry
		if err == nil {
			e, err = newKeyEntry(key, k.now())
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if err == nil {
			k.cur.Store(e)
		} else {
			k.lastFailure, k.lastErr = k.now(), err
			k.log.Warn("signalr: fetching the access key failed", "error", err)
		}
		k.inflight = nil
		close(ch)
	}()
}
