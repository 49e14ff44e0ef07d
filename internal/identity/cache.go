package identity

import (
	"sync"
	"time"
)

// Bounds of the verified-token cache.
const (
	// MaxCachedTokens is the most bearer tokens the cache holds.
	MaxCachedTokens = 8192
	// MaxCachedBytes bounds the token and claim text the cache holds
	// (map and struct overhead, ~200 bytes a token, come on top).
	MaxCachedBytes = 8 << 20
	// maxCachedTokenBytes keeps a single huge token (up to
	// MaxBearerTokenLen) from displacing many ordinary ones.
	maxCachedTokenBytes = 8 << 10
)

// verified is a bearer token that verified: its principal and the
// time-dependent claims a hit re-checks.
type verified struct {
	p             Principal
	exp, nbf, iat time.Time // zero when absent (exp is always present)
	// key is the JWKS key that verified the token and kid its id, so a
	// hit can check that the key is still published; nil for HS256.
	key  any
	kid  string
	size int
}

// verifiedCache remembers bearer tokens that verified, keyed by the whole
// token, so that a client negotiating again (every reconnect, every page
// load within the token's life) is not verified twice. Only successful
// verifications enter it; a hit re-checks exp, nbf and iat against the
// clock with the configured leeway, and for a JWKS that the verifying key
// is still the one published under its kid (a refreshed JWKS with other
// keys empties the cache). It holds at most MaxCachedTokens tokens and
// MaxCachedBytes of token and claim text; when full, expired entries go
// first, then arbitrary ones, an eighth of the cache at a time. Safe for
// concurrent use.
//
// Reads take no lock (a sync.Map: every negotiate of an authenticated
// client reads it, from many goroutines); writers serialise on mu, which
// also guards the counts.
type verifiedCache struct {
	m     sync.Map // string -> *verified
	mu    sync.Mutex
	n     int
	bytes int
}

func newVerifiedCache() *verifiedCache { return &verifiedCache{} }

// get returns the entry of tok, or nil.
func (c *verifiedCache) get(tok string) *verified {
	if v, ok := c.m.Load(tok); ok {
		return v.(*verified)
	}
	return nil
}

// put adds tok's entry, evicting others to stay within the bounds.
func (c *verifiedCache) put(tok string, v *verified, now time.Time) {
	v.size = len(tok)
	for _, cl := range v.p.Claims {
		v.size += len(cl.Type) + len(cl.Value)
	}
	if len(tok) > maxCachedTokenBytes || v.size > MaxCachedBytes/64 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m.Load(tok); ok {
		c.removeLocked(tok, old.(*verified))
	}
	if c.n >= MaxCachedTokens || c.bytes+v.size > MaxCachedBytes {
		// Make room for an eighth more at once, so that a full cache costs
		// one scan per MaxCachedTokens/8 puts, not one per put.
		const keepN, keepB = MaxCachedTokens * 7 / 8, MaxCachedBytes * 7 / 8
		c.m.Range(func(k, e any) bool { // expired ones first
			if now.After(e.(*verified).exp) {
				c.removeLocked(k.(string), e.(*verified))
			}
			return true
		})
		c.m.Range(func(k, e any) bool { // then arbitrary ones
			if c.n <= keepN && c.bytes+v.size <= keepB {
				return false
			}
			c.removeLocked(k.(string), e.(*verified))
			return true
		})
	}
	c.m.Store(tok, v)
	c.n++
	c.bytes += v.size
}

// remove drops tok's entry if it is still e.
func (c *verifiedCache) remove(tok string, e *verified) {
	c.mu.Lock()
	if cur, ok := c.m.Load(tok); ok && cur.(*verified) == e {
		c.removeLocked(tok, e)
	}
	c.mu.Unlock()
}

func (c *verifiedCache) removeLocked(tok string, e *verified) {
	if c.m.CompareAndDelete(tok, e) {
		c.n--
		c.bytes -= e.size
	}
}

// clear empties the cache (the signing keys changed).
func (c *verifiedCache) clear() {
	c.mu.Lock()
	c.m.Clear()
	c.n, c.bytes = 0, 0
	c.mu.Unlock()
}

// len returns the number of cached tokens and their bytes.
func (c *verifiedCache) len() (n, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.bytes
}
