package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const jwtSecret = "0123456789abcdef0123456789abcdef-test-secret"

func bearer(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type negotiateResp struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

// parseSignalRToken verifies a client access token with the service key
// and returns its claims.
func parseSignalRToken(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	if len(tok) > 4096 {
		t.Fatalf("token is %d characters, over the service limit", len(tok))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(devKey), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify with the AccessKey: %v", err)
	}
	return claims
}

func TestNegotiateIssuesServiceToken(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{
		"AzureSignalRConnectionString": cs,
		"AzureSignalRHubName":          "Chat",
		"AUTH_JWT_SECRET":              jwtSecret,
		"SIGNALR_CLAIM_TYPES":          "role,email",
		"SIGNALR_TOKEN_LIFETIME":       "30m",
	})
	tok := bearer(t, jwt.MapClaims{"sub": "alice", "role": []string{"admin", "ops"}, "email": "a@example.com", "secret": "x", "exp": time.Now().Add(time.Hour).Unix()})
	status, hdr, b := do(t, "POST", h.URL+"/api/negotiate?negotiateVersion=1", "", map[string]string{"Authorization": "Bearer " + tok})
	if status != 200 {
		t.Fatalf("negotiate = %d %s", status, b)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var r negotiateResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(strings.Split(cs, ";")[0], "Endpoint=")
	if !strings.HasSuffix(r.URL, "/client/?hub=chat") || !strings.HasPrefix(r.URL, host+":") {
		t.Errorf("url = %q: want the Endpoint with Port and the lower-cased hub", r.URL)
	}
	c := parseSignalRToken(t, r.AccessToken)
	if c["aud"] != host+"/client/?hub=chat" {
		t.Errorf("aud = %v, want %s/client/?hub=chat (no port)", c["aud"], host)
	}
	if c["asrs.s.uid"] != "alice" {
		t.Errorf("asrs.s.uid = %v", c["asrs.s.uid"])
	}
	if roles, _ := c["role"].([]any); len(roles) != 2 || roles[0] != "admin" || roles[1] != "ops" {
		t.Errorf("role = %v", c["role"])
	}
	if c["email"] != "a@example.com" {
		t.Errorf("email = %v", c["email"])
	}
	if _, ok := c["secret"]; ok {
		t.Error("a claim outside SIGNALR_CLAIM_TYPES was copied")
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if exp-iat != 1800 {
		t.Errorf("lifetime = %vs, want 1800", exp-iat)
	}
	// The payload's aud is a JSON string, not an array.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(r.AccessToken, ".")[1])
	if !strings.Contains(string(payload), `"aud":"`) {
		t.Errorf("aud is not a plain string: %s", payload)
	}
}

func TestNegotiateHubSelection(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "SIGNALR_ALLOWED_HUBS": "Notifications, ops"})
	for _, tc := range []struct {
		query  string
		status int
		code   string
		hub    string
	}{
		{"", 200, "", "chat"},
		{"?hub=notifications", 200, "", "notifications"},
		{"?hub=OPS", 200, "", "ops"},
		{"?hub=admin", 403, "negotiate.hub_not_allowed", ""},
		{"?hub=1bad", 400, "negotiate.invalid_hub", ""},
		{"?hub=a&hub=b", 400, "negotiate.invalid_hub", ""},
	} {
		status, _, b := do(t, "POST", h.URL+"/api/negotiate"+tc.query, "", nil)
		if tc.code != "" {
			wantError(t, status, b, tc.status, tc.code)
			continue
		}
		var r negotiateResp
		json.Unmarshal(b, &r)
		if status != 200 || !strings.HasSuffix(r.URL, "?hub="+tc.hub) {
			t.Errorf("%s: %d %s", tc.query, status, b)
			continue
		}
		if aud := parseSignalRToken(t, r.AccessToken)["aud"]; !strings.HasSuffix(aud.(string), "/client/?hub="+tc.hub) {
			t.Errorf("%s: aud %v", tc.query, aud)
		}
	}
}

func TestNegotiateIdentity(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	principal := base64.StdEncoding.EncodeToString([]byte(`{"auth_typ":"aad","claims":[{"typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier","val":"bob"}]}`))
	easy := map[string]string{"X-MS-CLIENT-PRINCIPAL-ID": "bob", "X-MS-CLIENT-PRINCIPAL": principal}

	t.Run("forged EasyAuth headers are ignored", func(t *testing.T) {
		h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
		status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", easy)
		var r negotiateResp
		json.Unmarshal(b, &r)
		if status != 200 {
			t.Fatalf("%d %s", status, b)
		}
		if uid, ok := parseSignalRToken(t, r.AccessToken)["asrs.s.uid"]; ok {
			t.Errorf("forged principal became user %v", uid)
		}
	})
	t.Run("platform EasyAuth is trusted", func(t *testing.T) {
		h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "WEBSITE_AUTH_ENABLED": "true"})
		status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", easy)
		var r negotiateResp
		json.Unmarshal(b, &r)
		if status != 200 || parseSignalRToken(t, r.AccessToken)["asrs.s.uid"] != "bob" {
			t.Errorf("%d %s", status, b)
		}
	})
	t.Run("anonymous refused", func(t *testing.T) {
		h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "ALLOW_ANONYMOUS": "false", "AUTH_JWT_SECRET": jwtSecret})
		status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", nil)
		wantError(t, status, b, 401, "negotiate.unauthenticated")
	})
	t.Run("bearer errors are 401 with the reason", func(t *testing.T) {
		h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "AUTH_JWT_SECRET": jwtSecret, "AUTH_JWT_AUDIENCE": "api://chat"})
		expired := bearer(t, jwt.MapClaims{"sub": "a", "aud": "api://chat", "exp": time.Now().Add(-time.Hour).Unix()})
		wrongAud := bearer(t, jwt.MapClaims{"sub": "a", "aud": "api://other", "exp": time.Now().Add(time.Hour).Unix()})
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"a","aud":"api://chat","exp":9999999999}`)) + "."
		lineSep := bearer(t, jwt.MapClaims{"sub": "a\u2028b", "aud": "api://chat", "exp": time.Now().Add(time.Hour).Unix()})
		future := bearer(t, jwt.MapClaims{"sub": "a", "aud": "api://chat", "iat": time.Now().Add(time.Hour).Unix(), "exp": time.Now().Add(2 * time.Hour).Unix()})
		critTok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "a", "aud": "api://chat", "exp": time.Now().Add(time.Hour).Unix()})
		critTok.Header["crit"] = []string{"urn:example:ext"}
		crit, _ := critTok.SignedString([]byte(jwtSecret))
		for _, tc := range []struct{ name, tok, code, in string }{
			{"expired", expired, "auth.token_expired", "expired"},
			{"wrong audience", wrongAud, "auth.invalid_audience", "api://other"},
			{"alg none", none, "auth.algorithm_not_allowed", "none"},
			{"U+2028 in the user id", lineSep, "auth.invalid_user_id", "U+2028"},
			{"iat an hour ahead", future, "auth.token_not_yet_valid", "iat"},
			{"unknown crit", crit, "auth.unsupported_critical_header", "urn:example:ext"},
		} {
			status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", map[string]string{"Authorization": "Bearer " + tc.tok})
			e := wantError(t, status, b, 401, tc.code)
			if !strings.Contains(e.Error.Message, tc.in) {
				t.Errorf("%s: message %q lacks %q", tc.name, e.Error.Message, tc.in)
			}
			if strings.Contains(string(b), tc.tok) {
				t.Errorf("%s: the token is echoed", tc.name)
			}
		}
		// The classic 401: the token in the access_token query parameter is read.
		ok := bearer(t, jwt.MapClaims{"sub": "carol", "aud": "api://chat", "exp": time.Now().Add(time.Hour).Unix()})
		status, _, b := do(t, "POST", h.URL+"/api/negotiate?access_token="+ok, "", nil)
		var r negotiateResp
		json.Unmarshal(b, &r)
		if status != 200 || parseSignalRToken(t, r.AccessToken)["asrs.s.uid"] != "carol" {
			t.Errorf("access_token query: %d %s", status, b)
		}
	})
	t.Run("a client cannot choose its user id", func(t *testing.T) {
		h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
		status, _, b := do(t, "POST", h.URL+"/api/negotiate?userid=mallory&userId=mallory", "", map[string]string{"x-ms-signalr-userid": "mallory"})
		var r negotiateResp
		json.Unmarshal(b, &r)
		if status != 200 {
			t.Fatalf("%d %s", status, b)
		}
		if uid, ok := parseSignalRToken(t, r.AccessToken)["asrs.s.uid"]; ok {
			t.Errorf("client chose user %v", uid)
		}
	})
}

func TestNegotiateTokenTooLarge(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "AUTH_JWT_SECRET": jwtSecret, "SIGNALR_CLAIM_TYPES": "groups"})
	groups := make([]string, 200)
	for i := range groups {
		groups[i] = fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
	}
	tok := bearer(t, jwt.MapClaims{"sub": "a", "groups": groups, "exp": time.Now().Add(time.Hour).Unix()})
	status, _, b := do(t, "POST", h.URL+"/api/negotiate", "", map[string]string{"Authorization": "Bearer " + tok})
	e := wantError(t, status, b, 413, "negotiate.token_too_large")
	if !strings.Contains(e.Error.Message, "groups") {
		t.Errorf("message does not name the largest claim: %q", e.Error.Message)
	}
}

func TestRoutesAndMethods(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs})
	status, _, b := do(t, "DELETE", h.URL+"/api/negotiate", "", nil)
	wantError(t, status, b, http.StatusMethodNotAllowed, "request.method_not_allowed")
	// Methods follow server.Functions(), the table function.json mirrors.
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/api/health", 405, "GET"},
		{"HEAD", "/api/health", 200, ""},
		{"PUT", "/api/broadcast", 405, "POST"},
		{"GET", "/api/broadcast", 405, "POST"},
		{"OPTIONS", "/api/negotiate", 204, ""},
		{"GET", "/api/negotiate", 200, ""},
	} {
		status, hdr, _ := do(t, tc.method, h.URL+tc.path, "", nil)
		if status != tc.status || hdr.Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tc.method, tc.path, status, hdr.Get("Allow"), tc.status, tc.allow)
		}
	}
	status, _, b = do(t, "POST", h.URL+"/api/negotiate/negotiate", "", nil)
	if e := wantError(t, status, b, 404, "request.route_not_found"); !strings.Contains(e.Error.Hint, "twice") {
		t.Errorf("hint %q does not name the doubled /negotiate", e.Error.Hint)
	}
	status, _, b = do(t, "POST", h.URL+"/api/negotiat", "", nil)
	if e := wantError(t, status, b, 404, "request.route_not_found"); !strings.Contains(e.Error.Hint, "/api/negotiate") {
		t.Errorf("hint %q does not name the routes", e.Error.Hint)
	}
	status, _, b = do(t, "GET", h.URL+"/", "", nil)
	if status != 200 {
		t.Errorf("GET / = %d %s", status, b)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "CORS_ALLOWED_ORIGINS": "http://app.localhost:5173"})
	pre := map[string]string{"Origin": "http://app.localhost:5173", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,x-requested-with,x-signalr-user-agent"}
	status, hdr, _ := do(t, "OPTIONS", h.URL+"/api/negotiate", "", pre)
	if status != 204 || hdr.Get("Access-Control-Allow-Origin") != "http://app.localhost:5173" || hdr.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "x-signalr-user-agent") || !strings.Contains(hdr.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight = %d %v", status, hdr)
	}
	status, hdr, _ = do(t, "POST", h.URL+"/api/negotiate", "", map[string]string{"Origin": "http://app.localhost:5173"})
	if status != 200 || hdr.Get("Access-Control-Allow-Origin") != "http://app.localhost:5173" || hdr.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("actual request = %d %v", status, hdr)
	}
	pre["Origin"] = "http://evil.localhost"
	status, hdr, b := do(t, "OPTIONS", h.URL+"/api/negotiate", "", pre)
	wantError(t, status, b, 403, "cors.origin_not_allowed")
	if hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed origin got CORS headers: %v", hdr)
	}
}

func TestEnvelopeCarriesCallerStatus(t *testing.T) {
	t.Parallel()
	cs, _, _ := startEmulator(t)
	h := newHandler(t, map[string]string{"AzureSignalRConnectionString": cs, "ALLOW_ANONYMOUS": "false", "AUTH_JWT_SECRET": jwtSecret})
	env := `{"Data":{"req":{"Url":"http://localhost:7071/api/negotiate","Method":"POST","Query":{},"Headers":{}}},"Metadata":{}}`
	status, hdr, b := do(t, "POST", h.URL+"/negotiate", env, map[string]string{"Content-Type": "application/json"})
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("host got %d %s: the host needs 200 + JSON", status, hdr.Get("Content-Type"))
	}
	var out struct {
		Outputs struct {
			Res struct {
				StatusCode int    `json:"statusCode"`
				Body       string `json:"body"`
			} `json:"res"`
		}
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	wantError(t, out.Outputs.Res.StatusCode, []byte(out.Outputs.Res.Body), 401, "negotiate.unauthenticated")
}
