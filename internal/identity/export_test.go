package identity

import "time"

// CacheLen exposes the verified-token cache's size to the external tests.
func CacheLen(r *Resolver) (tokens, bytes int) { return r.cache.len() }

// CachePut adds a synthetic entry, for the bounds test.
func CachePut(r *Resolver, tok string, claims []Claim, exp time.Time) {
	r.cache.put(tok, &verified{p: Principal{Claims: claims}, exp: exp}, r.now())
}
