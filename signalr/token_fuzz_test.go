package signalr

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jsonNorm returns s as it reads back from JSON: invalid UTF-8 becomes
// U+FFFD, as encoding/json writes it.
func jsonNorm(t *testing.T, s string) string {
	t.Helper()
	var out string
	if err := json.Unmarshal([]byte(jsonStdlib(t, s)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzGenerateAccessToken builds tokens from arbitrary strings and checks
// that each one verifies with jwt/v5 and carries exactly the expected
// header and claims, or that the refusal is the documented one.
func FuzzGenerateAccessToken(f *testing.F) {
	f.Add("key", "", "alice", "https://a.example/client/?hub=chat", "role", "admin", "role", "ops", "sub", uint16(0))
	f.Add("k==", "kid-1", "", "http://localhost/client/?hub=h", "sub", "s1", "sub", "s2", "aud", uint16(60))
	f.Add("\xff\x00key", "\"kid\"", "u\u2028\xc3", "aud\n\t", "name", "<&>\"\\", "exp", "x", "name", uint16(1))
	f.Add("k", "", "", "a", "asrs.s.uid", "x", "b", "y", "c", uint16(5))
	f.Add("k", "", strings.Repeat("u", 3000), "a", "t", "v", "t", "w", "t", uint16(7))
	f.Add("", "", "", "a", "t", "v", "t", "w", "t", uint16(7))
	f.Fuzz(func(t *testing.T, key, kid, uid, aud, t1, v1, t2, v2, t3 string, life uint16) {
		claims := []Claim{{t1, v1}, {t2, v2}, {t3, v1 + v2}}
		lifetime := time.Duration(life) * time.Second
		tok, err := GenerateAccessToken(AccessKey{ID: kid, Value: key}, aud, &TokenOptions{
			UserID: uid, Claims: claims, Lifetime: lifetime, Now: testNow})

		// The documented refusals, in order of checking.
		switch {
		case key == "":
			if !errors.Is(err, errEmptyKey) {
				t.Fatalf("empty key: err = %v", err)
			}
			return
		case aud == "":
			if !errors.Is(err, errEmptyAudience) {
				t.Fatalf("empty audience: err = %v", err)
			}
			return
		}
		for _, c := range claims {
			if c.Type == "" || strings.HasPrefix(strings.ToLower(c.Type), "asrs.s.") || !isValidUTF8(c.Type) {
				var ce *ClaimError
				if !errors.As(err, &ce) {
					t.Fatalf("claim %q: err = %v, want *ClaimError", c.Type, err)
				}
				return
			}
		}
		var tl *TokenTooLargeError
		if errors.As(err, &tl) {
			if tl.Length <= MaxTokenLength || len(tl.Largest) == 0 || len(tl.Largest) > 5 {
				t.Fatalf("bad TokenTooLargeError %+v", tl)
			}
			for _, v := range []string{key, v1, v2} {
				if len(v) >= 16 && strings.Contains(tl.Error(), v) {
					t.Fatalf("error %q contains a value", tl.Error())
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("GenerateAccessToken: %v", err)
		}
		if len(tok) > MaxTokenLength {
			t.Fatalf("token of %d characters", len(tok))
		}

		got := jwt.MapClaims{}
		parsed, err := jwt.ParseWithClaims(tok, got, func(*jwt.Token) (any, error) { return []byte(key), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return testNow }))
		if err != nil {
			t.Fatalf("jwt.Parse: %v (token %q)", err, tok)
		}
		wantHeader := map[string]any{"alg": "HS256", "typ": "JWT"}
		if kid != "" {
			wantHeader["kid"] = jsonNorm(t, kid)
		}
		if !reflect.DeepEqual(parsed.Header, wantHeader) {
			t.Fatalf("header = %v, want %v", parsed.Header, wantHeader)
		}

		// The expected claims, computed independently.
		if lifetime == 0 {
			lifetime = DefaultTokenLifetime
		}
		want := map[string]any{
			"aud": jsonNorm(t, aud),
			"nbf": float64(testNow.Unix()),
			"iat": float64(testNow.Unix()),
			"exp": float64(testNow.Add(lifetime).Unix()),
		}
		if uid != "" {
			want["asrs.s.uid"] = jsonNorm(t, uid)
		}
		reserved := map[string]bool{"aud": true, "exp": true, "iat": true, "nbf": true, "iss": true, "actort": true,
			"acr": true, "azp": true, "c_hash": true, "jti": true, "nonce": true}
		values := map[string][]any{}
		var order []string
		sub := false
		for _, c := range claims {
			typ := c.Type
			if typ == "sub" {
				if sub {
					typ = "asrs.u.sub"
				}
				sub = true
			} else if reserved[typ] {
				typ = "asrs.u." + typ
			}
			if _, ok := values[typ]; !ok {
				order = append(order, typ)
			}
			values[typ] = append(values[typ], jsonNorm(t, c.Value))
		}
		for _, typ := range order {
			if len(values[typ]) == 1 {
				want[typ] = values[typ][0]
			} else {
				want[typ] = values[typ]
			}
		}
		if !reflect.DeepEqual(map[string]any(got), want) {
			t.Fatalf("claims\n %#v\nwant\n %#v", got, want)
		}
	})
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "") == s }

// FuzzAppendJSONString compares the escaper with encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é😀", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString([]byte("x"), s)), "x"+jsonStdlib(t, s); got != want {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
