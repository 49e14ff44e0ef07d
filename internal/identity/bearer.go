package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// MaxBearerTokenLen is the longest bearer token accepted, in bytes.
const MaxBearerTokenLen = 16 << 10

// tokenSource says where a bearer token was found (for messages and logs).
type tokenSource string

const (
	fromHeader tokenSource = "the Authorization header"
	fromQuery  tokenSource = "the access_token query parameter"
)

// bearerToken returns the bearer token of req, if one is presented: from
// `Authorization: Bearer <t>` (scheme case-insensitive), else from the
// access_token query parameter. An Authorization header with another scheme
// is not a bearer token.
func bearerToken(req *http.Request) (tok string, from tokenSource, present bool) {
	for _, v := range req.Header["Authorization"] {
		v = strings.TrimSpace(v)
		if len(v) >= 6 && strings.EqualFold(v[:6], "bearer") && (len(v) == 6 || v[6] == ' ' || v[6] == '\t') {
			return strings.TrimSpace(v[6:]), fromHeader, true
		}
	}
	if req.URL != nil && strings.Contains(req.URL.RawQuery, "access_token") {
		q := req.URL.Query()
		if vs, ok := q["access_token"]; ok && len(vs) > 0 {
			return strings.TrimSpace(vs[0]), fromQuery, true
		}
	}
	return "", "", false
}

// verifyBearer validates raw and returns its principal: from the cache of
// verified tokens when raw verified before and is still within exp, nbf and
// iat, else by full verification (which enters the cache on success).
func (r *Resolver) verifyBearer(ctx context.Context, raw string, from tokenSource) (Principal, error) {
	if raw == "" {
		return Principal{}, r.malformed(nil, "The bearer token in %s is empty.", from)
	}
	if len(raw) > MaxBearerTokenLen {
		return Principal{}, r.malformed(nil, "The bearer token in %s is %d bytes long; at most %d are accepted.", from, len(raw), MaxBearerTokenLen)
	}
	if v := r.cache.get(raw); v != nil {
		if r.stillValid(ctx, v) {
			return v.p, nil
		}
		r.cache.remove(raw, v) // verify again: the answer says precisely why not
	}
	if n := strings.Count(raw, "."); n != 2 {
		return Principal{}, r.malformed(nil, "The bearer token in %s is not a JWT: a JWT has 3 dot-separated parts, this one has %d.", from, n+1)
	}
	var refreshErrsBefore uint64
	if r.jwks != nil {
		refreshErrsBefore = r.jwks.refreshErrs.Load()
	}
	var claims tokenClaims
	var used usedKey
	tok, err := r.parser.ParseWithClaims(raw, &claims, r.keyFunc(ctx, &used))
	if err != nil {
		return Principal{}, r.mapJWTError(tok, &claims, err, from, refreshErrsBefore)
	}
	if err := checkCritical(tok.Header); err != nil {
		return Principal{}, err
	}
	uid, err := r.userID(&claims)
	if err != nil {
		return Principal{}, err
	}
	p := Principal{UserID: uid, Source: SourceBearer, Claims: claims.flatten()}
	p.Copied = r.copied.Select(p.Claims)
	if r.jwks == nil || used.key != nil { // a JWKS token without kid is not cached: its key is not known
		v := &verified{p: p, exp: claims.exp.Time, key: used.key, kid: used.kid}
		if claims.nbf != nil {
			v.nbf = claims.nbf.Time
		}
		if claims.iat != nil {
			v.iat = claims.iat.Time
		}
		r.cache.put(raw, v, r.now())
	}
	return p, nil
}

// stillValid re-checks a cached token's time claims with the leeway, as
// jwt/v5's validator does, and for a JWKS that its key is still published.
// When the JWKS no longer has the key, the keys changed: the whole cache is
// emptied.
func (r *Resolver) stillValid(ctx context.Context, v *verified) bool {
	now, lw := r.now(), r.cfg.Leeway
	if !now.Before(v.exp.Add(lw)) || (!v.nbf.IsZero() && now.Before(v.nbf.Add(-lw))) || (!v.iat.IsZero() && now.Before(v.iat.Add(-lw))) {
		return false
	}
	if v.key != nil && !r.jwks.stillPublished(ctx, v.kid, v.key) {
		r.cache.clear()
		return false
	}
	return true
}

// checkCritical refuses a token with a crit header: RFC 7515 §4.1.11
// requires rejecting a JWS whose crit lists an extension the recipient does
// not understand, and this handler understands none (a crit that is not a
// non-empty list of names is malformed, which is refused too).
func checkCritical(h map[string]any) error {
	c, ok := h["crit"]
	if !ok {
		return nil
	}
	names := "a malformed list"
	if list, ok := c.([]any); ok && len(list) > 0 {
		var ns []string
		for _, e := range list {
			if s, ok := e.(string); ok {
				ns = append(ns, strconv.Quote(clip(s)))
			}
		}
		if len(ns) == len(list) {
			names = strings.Join(ns, ", ")
		}
	}
	return apperr.New(apperr.CodeAuthCriticalHeader,
		fmt.Sprintf("The bearer token's header marks extensions as critical (crit: %s) that the handler does not understand, so it must be refused (RFC 7515 §4.1.11).", names), "")
}

// usedKey records the JWKS key a token was verified with.
type usedKey struct {
	key any
	kid string
}

// keyFunc returns the key function for the configured verifier; the
// algorithm is pinned here as well as by the parser's valid methods. With a
// JWKS, the key returned for a token with a kid is recorded in used.
func (r *Resolver) keyFunc(ctx context.Context, used *usedKey) jwt.Keyfunc {
	if r.jwks != nil {
		return r.jwks.keyFunc(ctx, used)
	}
	return r.hsKeyFunc
}

func (r *Resolver) hsKeyFunc(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errAlgNotAllowed
	}
	return r.cfg.HS256Secret, nil
}

func (r *Resolver) userID(claims *tokenClaims) (string, error) {
	name := r.cfg.UserIDClaim
	v, ok := claims.m[name]
	if !ok || v == nil {
		return "", apperr.New(apperr.CodeAuthMalformedToken,
			fmt.Sprintf("The bearer token has no %q claim, which gives the user id.", name),
			fmt.Sprintf("Have the identity provider issue a %q claim, or configure the claim that carries the user id.", name))
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	default:
		return "", apperr.Errorf(apperr.CodeAuthMalformedToken, "The bearer token's %q claim, which gives the user id, is not a string.", name)
	}
	if strings.TrimSpace(s) == "" {
		return "", apperr.Errorf(apperr.CodeAuthMalformedToken, "The bearer token's %q claim, which gives the user id, is empty.", name)
	}
	if err := checkUserID(s, fmt.Sprintf("The bearer token's %q claim, which gives the user id,", name)); err != nil {
		return "", err
	}
	return s, nil
}

func (r *Resolver) malformed(err error, format string, args ...any) *apperr.Error {
	return &apperr.Error{Code: apperr.CodeAuthMalformedToken, Message: fmt.Sprintf(format, args...), Err: err}
}

// mapJWTError turns a jwt/v5 parse error into an *apperr.Error with a
// message saying precisely what is wrong. It never quotes the token; values
// quoted from it (iss, aud, kid, alg) are truncated.
func (r *Resolver) mapJWTError(tok *jwt.Token, claims *tokenClaims, err error, from tokenSource, refreshErrsBefore uint64) error {
	e := func(code, format string, args ...any) error {
		return &apperr.Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
	}
	if tok == nil || errors.Is(err, jwt.ErrTokenMalformed) {
		return e(apperr.CodeAuthMalformedToken, "The bearer token in %s is not a well-formed JWT (%s).", from, jwtDetail(err))
	}
	alg, _ := tok.Header["alg"].(string)
	if alg == "" {
		return e(apperr.CodeAuthMalformedToken, "The bearer token has no alg in its header.")
	}
	if !slices.Contains(r.algs, alg) || errors.Is(err, errAlgNotAllowed) {
		if strings.EqualFold(alg, "none") {
			return e(apperr.CodeAuthAlgorithm, "The bearer token is unsigned (alg %q); unsigned tokens are never accepted.", clip(alg))
		}
		return e(apperr.CodeAuthAlgorithm, "The bearer token is signed with alg %q, which is not allowed; allowed: %s.", clip(alg), strings.Join(r.algs, ", "))
	}
	var kae *keyAlgError
	if errors.As(err, &kae) {
		return e(apperr.CodeAuthAlgorithm, "The bearer token's alg %s does not fit its signing key: %s.", kae.alg, clip(kae.why))
	}
	if errors.Is(err, errJWKSUnavailable) {
		return &apperr.Error{Code: apperr.CodeAuthJWKSUnavailable, Message: "The identity provider's JWKS could not be fetched, so the bearer token cannot be verified.", Err: err}
	}
	var uke *unknownKIDError
	if errors.As(err, &uke) {
		if r.jwks != nil && r.jwks.refreshErrs.Load() != refreshErrsBefore {
			return &apperr.Error{Code: apperr.CodeAuthJWKSUnavailable, Message: "The bearer token's signing key is not in the cached JWKS and refreshing the JWKS failed.", Err: err}
		}
		if uke.noKID {
			return e(apperr.CodeAuthUnknownKey, "The bearer token has no kid and the JWKS has no key that can verify alg %s.", alg)
		}
		return e(apperr.CodeAuthUnknownKey, "The bearer token's signing key (kid %q) is not in the JWKS.", clip(uke.kid))
	}
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		with := "the configured HS256 secret"
		if r.jwks != nil {
			with = "the JWKS key"
			if kid, ok := tok.Header["kid"].(string); ok {
				with = fmt.Sprintf("the JWKS key %q", clip(kid))
			}
		}
		return e(apperr.CodeAuthInvalidSig, "The bearer token's %s signature does not verify with %s.", alg, with)
	}
	if errors.Is(err, jwt.ErrInvalidType) {
		return e(apperr.CodeAuthMalformedToken, "A registered claim of the bearer token has the wrong type (%s).", jwtDetail(err))
	}
	if errors.Is(err, jwt.ErrTokenInvalidIssuer) || (r.cfg.Issuer != "" && errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims.missing("iss")) {
		got := claims.iss
		if got == "" {
			return e(apperr.CodeAuthInvalidIssuer, "The bearer token has no iss claim; expected issuer %q.", r.cfg.Issuer)
		}
		return e(apperr.CodeAuthInvalidIssuer, "The bearer token's issuer is %q but the handler expects %q.", clip(got), r.cfg.Issuer)
	}
	if errors.Is(err, jwt.ErrTokenInvalidAudience) || (len(r.cfg.Audiences) > 0 && errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims.missing("aud")) {
		got := claims.aud
		if len(got) == 0 {
			return e(apperr.CodeAuthInvalidAudience, "The bearer token has no aud claim; expected one of %s.", quoteList(r.cfg.Audiences))
		}
		return e(apperr.CodeAuthInvalidAudience, "The bearer token's audience is %s but the handler accepts %s.", quoteList(got), quoteList(r.cfg.Audiences))
	}
	if errors.Is(err, jwt.ErrTokenExpired) {
		if exp := claims.exp; exp != nil {
			ago := r.now().Sub(exp.Time).Truncate(time.Second)
			return e(apperr.CodeAuthTokenExpired, "The bearer token expired %s ago (exp %s, leeway %s).", ago, exp.UTC().Format(time.RFC3339), r.cfg.Leeway)
		}
		return e(apperr.CodeAuthTokenExpired, "The bearer token has expired.")
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) && claims.iat != nil {
		in := claims.iat.Sub(r.now()).Truncate(time.Second)
		return e(apperr.CodeAuthTokenNotYet, "The bearer token was issued %s in the future (iat %s, leeway %s): the issuer's clock is ahead.", in, claims.iat.UTC().Format(time.RFC3339), r.cfg.Leeway)
	}
	if errors.Is(err, jwt.ErrTokenNotValidYet) {
		if nbf := claims.nbf; nbf != nil {
			in := nbf.Sub(r.now()).Truncate(time.Second)
			return e(apperr.CodeAuthTokenNotYet, "The bearer token is not valid for another %s (nbf %s, leeway %s).", in, nbf.UTC().Format(time.RFC3339), r.cfg.Leeway)
		}
		return e(apperr.CodeAuthTokenNotYet, "The bearer token is not valid yet.")
	}
	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims.missing("exp") {
		return e(apperr.CodeAuthMalformedToken, "The bearer token has no exp claim; an expiry is required.")
	}
	return e(apperr.CodeAuthMalformedToken, "The bearer token could not be verified (%s).", jwtDetail(err))
}

// jwtDetail returns jwt/v5's description of err. Its messages name the
// failing part and never contain the token.
func jwtDetail(err error) string { return clip(err.Error()) }

// clip shortens token-supplied text for messages.
func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

func quoteList(vs []string) string {
	q := make([]string, 0, len(vs))
	for i, v := range vs {
		if i == 5 {
			q = append(q, fmt.Sprintf("… (%d more)", len(vs)-5))
			break
		}
		q = append(q, strconv.Quote(clip(v)))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// flatten returns every claim sorted by name; arrays become repeated
// claims; nested objects, nested arrays and nulls are skipped.
func (c *tokenClaims) flatten() []Claim {
	m := c.m
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Claim, 0, len(keys))
	for _, k := range keys {
		switch v := m[k].(type) {
		case []any:
			for _, e := range v {
				if s, ok := scalarText(e); ok {
					out = append(out, Claim{Type: k, Value: s})
				}
			}
		default:
			if s, ok := scalarText(v); ok {
				out = append(out, Claim{Type: k, Value: s})
			}
		}
	}
	return out
}

func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}
