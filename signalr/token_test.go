package signalr

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testKey = "Zm9vYmFyYmF6cXV4S2V5VmFsdWU=" // base64-looking on purpose

var testNow = time.Unix(1700000000, 0)

// parseToken verifies token's HS256 signature with key and returns the
// header and claims as jwt/v5 decoded them.
func parseToken(t *testing.T, token, key string, now time.Time) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(key), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("jwt.Parse(%q): %v", token, err)
	}
	if !tok.Valid {
		t.Fatal("token not valid")
	}
	return tok.Header, claims
}

// rawPayload returns the token's payload JSON.
func rawPayload(t *testing.T, token string) []byte {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload is not base64url: %v", err)
	}
	return b
}

// payloadKeys returns the payload's top-level keys in order.
func payloadKeys(t *testing.T, payload []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	var keys []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("payload does not start with {: %v %v", tok, err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestGenerateAccessTokenClaims(t *testing.T) {
	aud := "https://contoso.service.signalr.net/client/?hub=chat"
	opts := &TokenOptions{
		UserID: "alice",
		Claims: []Claim{
			{"sub", "alice-sub"},
			{"role", "admin"},
			{"name", "Alice \"A\" <x>"},
			{"sub", "second-sub"},
			{"role", "ops"},
			{"aud", "api://other"},
			{"exp", "1"},
			{"iat", "2"},
			{"nbf", "3"},
			{"iss", "https://issuer"},
			{"actort", "a"},
			{"acr", "b"},
			{"azp", "c"},
			{"c_hash", "d"},
			{"jti", "e"},
			{"nonce", "f"},
			{"asrs.u.jti", "g"},
			{"role", "auditor"},
		},
		Lifetime: 30 * time.Minute,
		Now:      testNow,
	}
	token, err := GenerateAccessToken(AccessKey{Value: testKey}, aud, opts)
	if err != nil {
		t.Fatal(err)
	}
	header, claims := parseToken(t, token, testKey, testNow)
	if header["alg"] != "HS256" || header["typ"] != "JWT" {
		t.Errorf("header = %v", header)
	}
	if _, ok := header["kid"]; ok {
		t.Errorf("header has a kid without AccessKey.ID: %v", header)
	}
	if len(header) != 2 {
		t.Errorf("header has extra fields: %v", header)
	}

	want := map[string]any{
		"asrs.s.uid":    "alice",
		"sub":           "alice-sub",
		"role":          []any{"admin", "ops", "auditor"},
		"name":          "Alice \"A\" <x>",
		"asrs.u.sub":    "second-sub",
		"asrs.u.aud":    "api://other",
		"asrs.u.exp":    "1",
		"asrs.u.iat":    "2",
		"asrs.u.nbf":    "3",
		"asrs.u.iss":    "https://issuer",
		"asrs.u.actort": "a",
		"asrs.u.acr":    "b",
		"asrs.u.azp":    "c",
		"asrs.u.c_hash": "d",
		"asrs.u.jti":    []any{"e", "g"},
		"asrs.u.nonce":  "f",
		"aud":           aud,
		"nbf":           float64(testNow.Unix()),
		"iat":           float64(testNow.Unix()),
		"exp":           float64(testNow.Add(30 * time.Minute).Unix()),
	}
	for k, w := range want {
		if got := claims[k]; fmt.Sprint(got) != fmt.Sprint(w) || fmt.Sprintf("%T", got) != fmt.Sprintf("%T", w) {
			t.Errorf("claim %q = %#v, want %#v", k, got, w)
		}
	}
	for k := range claims {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected claim %q = %v", k, claims[k])
		}
	}

	// Order: uid first, custom claims at their first position, then aud, nbf, exp, iat.
	keys := payloadKeys(t, rawPayload(t, token))
	wantKeys := []string{"asrs.s.uid", "sub", "role", "name", "asrs.u.sub", "asrs.u.aud", "asrs.u.exp", "asrs.u.iat",
		"asrs.u.nbf", "asrs.u.iss", "asrs.u.actort", "asrs.u.acr", "asrs.u.azp", "asrs.u.c_hash", "asrs.u.jti", "asrs.u.nonce",
		"aud", "nbf", "exp", "iat"}
	if strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("payload keys\n %v\nwant\n %v", keys, wantKeys)
	}
	// aud is a plain JSON string, not an array; times are integers.
	raw := string(rawPayload(t, token))
	if !strings.Contains(raw, `"aud":"https://contoso.service.signalr.net/client/?hub=chat","nbf":1700000000,"exp":1700001800,"iat":1700000000}`) {
		t.Errorf("payload tail = %s", raw)
	}
}

func TestGenerateAccessTokenExactPayload(t *testing.T) {
	token, err := GenerateAccessToken(AccessKey{Value: "k"}, "http://localhost/client/?hub=chat", &TokenOptions{
		UserID: "u", Claims: []Claim{{"role", "a"}, {"role", "b"}}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"asrs.s.uid":"u","role":["a","b"],"aud":"http://localhost/client/?hub=chat","nbf":1700000000,"exp":1700003600,"iat":1700000000}`
	if got := string(rawPayload(t, token)); got != want {
		t.Errorf("payload\n %s\nwant\n %s", got, want)
	}
	if h := strings.SplitN(token, ".", 2)[0]; h != base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) {
		t.Errorf("header segment %q", h)
	}
}

func TestGenerateAccessTokenKid(t *testing.T) {
	token, err := GenerateAccessToken(AccessKey{ID: "key-\"1\"", Value: testKey}, "https://a/client/?hub=h", &TokenOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	header, claims := parseToken(t, token, testKey, testNow)
	if header["kid"] != "key-\"1\"" || header["alg"] != "HS256" || header["typ"] != "JWT" {
		t.Errorf("header = %v", header)
	}
	if _, ok := claims["asrs.s.uid"]; ok {
		t.Errorf("uid claim without UserID: %v", claims)
	}
	if len(claims) != 4 {
		t.Errorf("claims = %v, want aud, nbf, exp, iat only", claims)
	}
}

func TestGenerateAccessTokenDefaults(t *testing.T) {
	before := time.Now().Unix()
	token, err := GenerateAccessToken(AccessKey{Value: testKey}, "https://a/client/?hub=h", nil)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	_, claims := parseToken(t, token, testKey, time.Now())
	iat := int64(claims["iat"].(float64))
	if iat < before || iat > after {
		t.Errorf("iat = %d, want between %d and %d", iat, before, after)
	}
	if exp := int64(claims["exp"].(float64)); exp != iat+3600 {
		t.Errorf("exp = %d, want iat+3600 = %d", exp, iat+3600)
	}
	if nbf := int64(claims["nbf"].(float64)); nbf != iat {
		t.Errorf("nbf = %d, want iat %d", nbf, iat)
	}
}

// TestGenerateAccessTokenKeyIsUTF8 checks the HMAC key is the UTF-8 of the
// string, not its base64 decoding.
func TestGenerateAccessTokenKeyIsUTF8(t *testing.T) {
	token, err := GenerateAccessToken(AccessKey{Value: testKey}, "https://a/client/?hub=h", &TokenOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := base64.StdEncoding.DecodeString(testKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = jwt.Parse(token, func(*jwt.Token) (any, error) { return decoded, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return testNow }))
	if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("token verified with the base64-decoded key: err = %v", err)
	}
	parseToken(t, token, testKey, testNow)
	// And a token expired by the time of the check is refused.
	_, err = jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(testKey), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return testNow.Add(2 * time.Hour) }))
	if !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("err = %v, want expired", err)
	}
}

func TestGenerateAccessTokenRefusals(t *testing.T) {
	aud := "https://a/client/?hub=h"
	tests := []struct {
		name     string
		key      AccessKey
		aud      string
		opts     *TokenOptions
		claimErr string // expected ClaimError.Type, or "" for a plain error
		text     string
	}{
		{"empty key", AccessKey{ID: "x"}, aud, nil, "", "access key is empty"},
		{"empty audience", AccessKey{Value: "k"}, "", nil, "", "audience is empty"},
		{"negative lifetime", AccessKey{Value: "k"}, aud, &TokenOptions{Lifetime: -time.Second}, "", "lifetime is negative"},
		{"system uid", AccessKey{Value: "k"}, aud, &TokenOptions{Claims: []Claim{{"asrs.s.uid", "mallory"}}}, "asrs.s.uid", "reserved"},
		{"system other", AccessKey{Value: "k"}, aud, &TokenOptions{Claims: []Claim{{"role", "x"}, {"asrs.s.dc", "true"}}}, "asrs.s.dc", "reserved"},
		{"system upper case", AccessKey{Value: "k"}, aud, &TokenOptions{Claims: []Claim{{"ASRS.S.aut", "x"}}}, "ASRS.S.aut", "reserved"},
		{"empty type", AccessKey{Value: "k"}, aud, &TokenOptions{Claims: []Claim{{"", "x"}}}, "", "claim type is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := GenerateAccessToken(tt.key, tt.aud, tt.opts)
			if err == nil || tok != "" {
				t.Fatalf("GenerateAccessToken = %q, %v; want an error", tok, err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q lacks %q", err, tt.text)
			}
			var ce *ClaimError
			isClaim := errors.As(err, &ce)
			if tt.claimErr != "" || strings.Contains(tt.name, "type") {
				if !isClaim {
					t.Fatalf("error %T is not *ClaimError", err)
				}
				if ce.Type != tt.claimErr {
					t.Errorf("ClaimError.Type = %q, want %q", ce.Type, tt.claimErr)
				}
				if strings.Contains(err.Error(), "mallory") {
					t.Errorf("error %q repeats the claim value", err)
				}
			} else if isClaim {
				t.Errorf("unexpected *ClaimError %v", err)
			}
		})
	}
	// asrs.u.* claims are allowed.
	if _, err := GenerateAccessToken(AccessKey{Value: "k"}, aud, &TokenOptions{Claims: []Claim{{"asrs.u.x", "y"}}}); err != nil {
		t.Errorf("asrs.u.x refused: %v", err)
	}
}

func TestGenerateAccessTokenTooLarge(t *testing.T) {
	aud := "https://contoso.service.signalr.net/client/?hub=chat"
	secretValue := "SECRETVALUE"
	mk := func(n int) *TokenOptions {
		return &TokenOptions{UserID: "alice", Now: testNow, Claims: []Claim{
			{"small", "s"},
			{"groups", secretValue + strings.Repeat("g", n)},
			{"role", strings.Repeat("r", 300)},
			{"role", strings.Repeat("r", 300)},
			{"email", strings.Repeat("e", 100)},
			{"name", strings.Repeat("n", 50)},
			{"tid", strings.Repeat("t", 36)},
		}}
	}
	// Find the largest n that fits and check the boundary on both sides.
	last := ""
	n := 0
	for ; ; n++ {
		tok, err := GenerateAccessToken(AccessKey{Value: testKey}, aud, mk(n))
		if err != nil {
			break
		}
		last = tok
	}
	if len(last) > MaxTokenLength || len(last) < MaxTokenLength-4 {
		t.Fatalf("largest token that fits has %d characters", len(last))
	}
	parseToken(t, last, testKey, testNow)

	_, err := GenerateAccessToken(AccessKey{Value: testKey}, aud, mk(n))
	var te *TokenTooLargeError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not *TokenTooLargeError", err, err)
	}
	if te.Length <= MaxTokenLength || te.Length > len(last)+4 {
		t.Errorf("Length = %d, last fitting token %d", te.Length, len(last))
	}
	if len(te.Largest) != 5 {
		t.Fatalf("Largest = %v, want 5 entries", te.Largest)
	}
	wantTypes := []string{"groups", "role", "email", "aud", "name"}
	for i, c := range te.Largest {
		if c.Type != wantTypes[i] {
			t.Errorf("Largest[%d] = %v, want type %q", i, c, wantTypes[i])
		}
		if i > 0 && c.Size > te.Largest[i-1].Size {
			t.Errorf("Largest not sorted: %v", te.Largest)
		}
	}
	// groups: `"groups":"…",` is 12 + len(value) JSON bytes, in base64url characters.
	gj := len(`"groups":"",`) + len(secretValue) + n
	if want := (gj*4 + 2) / 3; te.Largest[0].Size != want {
		t.Errorf("groups size = %d, want %d", te.Largest[0].Size, want)
	}
	msg := err.Error()
	for _, want := range []string{"4096", fmt.Sprint(te.Length), `"groups"`, `"role"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, secretValue) || strings.Contains(msg, "rrrr") {
		t.Errorf("error %q contains claim values", msg)
	}
}

// TestGenerateAccessTokenManyClaims checks that the map-based grouping for
// more than smallClaims claims gives the same payload as the scan.
func TestGenerateAccessTokenManyClaims(t *testing.T) {
	var claims []Claim
	for i := range 40 {
		typ := []string{"role", "group", "sub", "aud"}[i%4]
		claims = append(claims, Claim{typ, fmt.Sprint(i)})
	}
	token, err := GenerateAccessToken(AccessKey{Value: "k"}, "a", &TokenOptions{Claims: claims, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	_, got := parseToken(t, token, "k", testNow)
	// Build the expectation by hand.
	want := map[string][]any{}
	for i, c := range claims {
		typ := c.Type
		if typ == "aud" || (typ == "sub" && i != 2) {
			typ = "asrs.u." + typ
		}
		want[typ] = append(want[typ], c.Value)
	}
	for typ, vals := range want {
		var w any = vals
		if len(vals) == 1 {
			w = vals[0]
		}
		if fmt.Sprint(got[typ]) != fmt.Sprint(w) {
			t.Errorf("claim %q = %v, want %v", typ, got[typ], w)
		}
	}
	if keys := payloadKeys(t, rawPayload(t, token)); strings.Join(keys, ",") != "role,group,sub,asrs.u.aud,asrs.u.sub,aud,nbf,exp,iat" {
		t.Errorf("keys = %v", keys)
	}
	// The same claims split below the threshold group the same way.
	small, err := GenerateAccessToken(AccessKey{Value: "k"}, "a", &TokenOptions{Claims: claims[:smallClaims], Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	_, gotSmall := parseToken(t, small, "k", testNow)
	if len(gotSmall["role"].([]any)) != smallClaims/4 {
		t.Errorf("small path role = %v", gotSmall["role"])
	}
}

func TestClientAccessToken(t *testing.T) {
	cs, err := ParseConnectionString("Endpoint=http://localhost;Port=8888;AccessKey=" + testKey + ";Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}
	token, err := ClientAccessToken(cs, "Chat", &TokenOptions{UserID: "bob", Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	header, claims := parseToken(t, token, testKey, testNow)
	if _, ok := header["kid"]; ok {
		t.Errorf("kid in AccessKey mode: %v", header)
	}
	if claims["aud"] != "http://localhost/client/?hub=chat" || claims["asrs.s.uid"] != "bob" {
		t.Errorf("claims = %v", claims)
	}

	var he *HubNameError
	if _, err := ClientAccessToken(cs, "bad hub", nil); !errors.As(err, &he) {
		t.Errorf("invalid hub: err = %v, want *HubNameError", err)
	}
	entra, err := ParseConnectionString("Endpoint=https://a.example;AuthType=azure")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ClientAccessToken(entra, "chat", nil); err == nil || !strings.Contains(err.Error(), "no AccessKey") {
		t.Errorf("Entra connection string: err = %v", err)
	}
	if _, err := ClientAccessToken(nil, "chat", nil); err == nil {
		t.Error("nil connection string accepted")
	}
}

func TestAccessKeyRedacts(t *testing.T) {
	k := AccessKey{ID: "kid1", Value: testKey}
	for _, s := range []string{k.String(), fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprint(&k), k.LogValue().String()} {
		if strings.Contains(s, testKey) {
			t.Errorf("%q contains the key", s)
		}
		if !strings.Contains(s, "kid1") {
			t.Errorf("%q lacks the key id", s)
		}
	}
	if s := k.String(); s != `AccessKey{ID:"kid1" Value:***}` {
		t.Errorf("String() = %q", s)
	}
	if s := (AccessKey{ID: "x"}).String(); s != `AccessKey{ID:"x" Value:}` {
		t.Errorf("empty String() = %q", s)
	}
}

// jsonStdlib encodes s as encoding/json does with HTML escaping off.
func jsonStdlib(t testing.TB, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	var all strings.Builder
	for c := range 0x80 {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "<html> & 'apos'", "\b\f\n\r\t\x00\x01\x1f\x7f",
		"é 用户 😀", "\u2028 line \u2029 para", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big",
		"\ufffd literal replacement", all.String(), strings.Repeat("ab\"\n", 100),
	} {
		got := string(appendJSONString(nil, s))
		if want := jsonStdlib(t, s); got != want {
			t.Errorf("appendJSONString(%q)\n = %s\nwant %s", s, got, want)
		}
	}
}

func TestGenerateAccessTokenAllocs(t *testing.T) {
	opts := &TokenOptions{UserID: "alice", Claims: []Claim{{"role", "admin"}, {"role", "ops"}, {"name", "Alice"}}, Now: testNow}
	key := AccessKey{ID: "kid", Value: testKey}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := GenerateAccessToken(key, "https://contoso.service.signalr.net/client/?hub=chat", opts); err != nil {
			t.Fatal(err)
		}
	})
	// signing string, token string, key bytes, and hmac's internals.
	if allocs > 12 {
		t.Errorf("GenerateAccessToken allocates %v times per call", allocs)
	}
	t.Logf("allocs per token: %v", allocs)

	// A prepared Signer (negotiate's and the REST client's path) allocates
	// no more: the signing string and the token.
	signer, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	allocs = testing.AllocsPerRun(200, func() {
		if _, err := signer.Sign("https://contoso.service.signalr.net/client/?hub=chat", opts); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 && !raceEnabled {
		t.Errorf("Signer.Sign allocates %v times per call", allocs)
	}
}

func BenchmarkGenerateAccessToken(b *testing.B) {
	opts := &TokenOptions{UserID: "alice@contoso.com", Claims: []Claim{
		{"sub", "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"},
		{"name", "Alice Example"},
		{"role", "admin"},
		{"role", "ops"},
	}}
	key := AccessKey{Value: testKey}
	aud := "https://contoso.service.signalr.net/client/?hub=chat"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := GenerateAccessToken(key, aud, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateAccessTokenMapClaims is the jwt.MapClaims baseline the
// hand-built payload is measured against.
func BenchmarkGenerateAccessTokenMapClaims(b *testing.B) {
	key := []byte(testKey)
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now().Unix()
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"asrs.s.uid": "alice@contoso.com",
			"sub":        "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
			"name":       "Alice Example",
			"role":       []string{"admin", "ops"},
			"aud":        "https://contoso.service.signalr.net/client/?hub=chat",
			"nbf":        now, "exp": now + 3600, "iat": now,
		})
		if _, err := tok.SignedString(key); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSignerMatchesGenerateAccessToken(t *testing.T) {
	opts := &TokenOptions{UserID: "u", Now: testNow}
	for _, key := range []AccessKey{{Value: testKey}, {ID: "kid-1", Value: testKey}} {
		s, err := NewSigner(key)
		if err != nil {
			t.Fatal(err)
		}
		a, err1 := s.Sign("https://x/client/?hub=a", opts)
		b, err2 := GenerateAccessToken(key, "https://x/client/?hub=a", opts)
		if err1 != nil || err2 != nil || a != b || s.KeyID() != key.ID {
			t.Errorf("key %v: Sign %q (%v) != GenerateAccessToken %q (%v)", key, a, err1, b, err2)
		}
	}
	if _, err := NewSigner(AccessKey{}); err == nil {
		t.Error("NewSigner accepted an empty key")
	}
}
