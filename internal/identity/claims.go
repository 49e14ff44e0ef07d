package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenClaims is a bearer token's payload for jwt/v5 (a jwt.Claims): the
// payload is decoded once, and the registered claims the validator asks for
// (exp, nbf, iat, iss, aud, sub) are typed at decode time instead of being
// looked up and converted in a map on every call, as jwt.MapClaims does.
// m keeps every claim (numbers as json.Number) for the user id and the
// principal's claims.
type tokenClaims struct {
	m             map[string]any
	exp, nbf, iat *jwt.NumericDate
	iss, sub      string
	aud           jwt.ClaimStrings
	// errs holds the wrong-typed registered claims, reported by the getter
	// the validator calls (wrapping jwt.ErrInvalidType, as MapClaims does).
	errs map[string]error
}

// UnmarshalJSON decodes the payload.
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&c.m); err != nil {
		return err
	}
	c.exp = c.date("exp")
	c.nbf = c.date("nbf")
	c.iat = c.date("iat")
	c.iss = c.str("iss")
	c.sub = c.str("sub")
	c.aud = c.strings("aud")
	return nil
}

func (c *tokenClaims) fail(name string) {
	if c.errs == nil {
		c.errs = map[string]error{}
	}
	c.errs[name] = fmt.Errorf("%s is invalid: %w", name, jwt.ErrInvalidType)
}

func (c *tokenClaims) date(name string) *jwt.NumericDate {
	v, ok := c.m[name]
	if !ok || v == nil {
		return nil
	}
	var f float64
	switch v := v.(type) {
	case json.Number:
		var err error
		if f, err = v.Float64(); err != nil {
			c.fail(name)
			return nil
		}
	case float64:
		f = v
	default:
		c.fail(name)
		return nil
	}
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9)))
}

func (c *tokenClaims) str(name string) string {
	v, ok := c.m[name]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		c.fail(name)
	}
	return s
}

func (c *tokenClaims) strings(name string) jwt.ClaimStrings {
	switch v := c.m[name].(type) {
	case nil:
		return nil
	case string:
		return jwt.ClaimStrings{v}
	case []any:
		out := make(jwt.ClaimStrings, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				c.fail(name)
				return nil
			}
			out = append(out, s)
		}
		return out
	default:
		c.fail(name)
		return nil
	}
}

// missing reports whether the claim is absent, null or "".
func (c *tokenClaims) missing(name string) bool {
	v, ok := c.m[name]
	return !ok || v == nil || v == ""
}

// GetExpirationTime implements jwt.Claims.
func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.exp, c.errs["exp"] }

// GetNotBefore implements jwt.Claims.
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error) { return c.nbf, c.errs["nbf"] }

// GetIssuedAt implements jwt.Claims.
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error) { return c.iat, c.errs["iat"] }

// GetIssuer implements jwt.Claims.
func (c *tokenClaims) GetIssuer() (string, error) { return c.iss, c.errs["iss"] }

// GetSubject implements jwt.Claims.
func (c *tokenClaims) GetSubject() (string, error) { return c.sub, c.errs["sub"] }

// GetAudience implements jwt.Claims.
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) { return c.aud, c.errs["aud"] }
