package emulator_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/emulator"
)

// negotiateRaw calls negotiate (version 1) with an arbitrary Authorization
// header.
func (e *env) negotiateRaw(hub, auth string) restResp {
	e.t.Helper()
	return e.negotiateQuery(hub, auth, "negotiateVersion=1")
}

func expect401(t *testing.T, r restResp, tok string, wants ...string) {
	t.Helper()
	if r.status != 401 {
		t.Fatalf("status %d, want 401 (body %s)", r.status, r.body)
	}
	d := r.errorDetail(t)
	if d.Code != "Error.Unauthorized" || d.Level != "Error" {
		t.Fatalf("detail %+v", d)
	}
	for _, w := range wants {
		if !strings.Contains(d.Message, w) {
			t.Errorf("message %q does not contain %q", d.Message, w)
		}
	}
	if tok != "" && strings.Contains(string(r.body), tok) {
		t.Errorf("401 body echoes the token")
	}
	if strings.Contains(string(r.body), testKey) {
		t.Errorf("401 body contains the key")
	}
}

func TestClientTokenRejections(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	now := e.clock.Now()
	aud := e.audBase + "/client/?hub=chat"

	expect401(t, e.negotiateRaw("chat", ""), "", "Authorization: Bearer", "header")

	wrongAud := sign(t, testKey, jwt.MapClaims{"aud": e.audBase + "/client/?hub=other", "exp": now.Add(time.Hour).Unix()})
	expect401(t, e.negotiateRaw("chat", "Bearer "+wrongAud), wrongAud,
		`expected "http://localhost/client/?hub=chat"`, `got "`+e.audBase+`/client/?hub=other"`)

	expired := sign(t, testKey, jwt.MapClaims{"aud": aud, "exp": now.Add(-90 * time.Second).Unix()})
	expect401(t, e.negotiateRaw("chat", "Bearer "+expired), expired, "expired 1m30s ago")

	noExp := sign(t, testKey, jwt.MapClaims{"aud": aud})
	expect401(t, e.negotiateRaw("chat", "Bearer "+noExp), noExp, "no exp claim")

	badSig := sign(t, "some-other-key", jwt.MapClaims{"aud": aud, "exp": now.Add(time.Hour).Unix()})
	expect401(t, e.negotiateRaw("chat", "Bearer "+badSig), badSig, "AccessKey in your connection string equals the emulator's -key")

	// alg none: header {"alg":"none"} and an empty signature.
	enc := base64.RawURLEncoding.EncodeToString
	none := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(`{"aud":"`+aud+`","exp":9999999999}`)) + "."
	expect401(t, e.negotiateRaw("chat", "Bearer "+none), none, `algorithm "none" is not accepted`, "HS256")

	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"aud": aud, "exp": now.Add(time.Hour).Unix()}).SignedString([]byte(testKey))
	expect401(t, e.negotiateRaw("chat", "Bearer "+hs512), hs512, `algorithm "HS512"`)

	expect401(t, e.negotiateRaw("chat", "Bearer not-a-jwt"), "", "well-formed JWT")

	// A REST token cannot connect a client.
	restTok := e.restToken("/api/hubs/chat/:send?" + apiV)
	expect401(t, e.negotiateRaw("chat", "Bearer "+restTok), restTok, "expected", "got")

	// WebSocket without any token says where it looks.
	_, resp, err := e.tryDial("chat", "x", "", false)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("ws without token: %v %v", err, resp)
	}
}

func TestClientTokenAccepted(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	now := e.clock.Now()
	for name, claims := range map[string]jwt.MapClaims{
		"port, upper-case hub, no trailing slash": {"aud": e.audBase + ":8888/client?hub=CHAT", "exp": now.Add(time.Minute).Unix()},
		"localhost for 127.0.0.1":                 {"aud": "http://localhost/client/?hub=chat", "exp": now.Add(time.Minute).Unix()},
		"aud array of one":                        {"aud": []string{e.audBase + "/client/?hub=chat"}, "exp": now.Add(time.Minute).Unix()},
	} {
		tok := sign(t, testKey, claims)
		tokKid := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tokKid.Header["kid"] = "some-key-id"
		kidStr, _ := tokKid.SignedString([]byte(testKey))
		for _, tk := range []string{tok, kidStr} {
			if r := e.negotiateRaw("chat", "Bearer "+tk); r.status != 200 {
				t.Errorf("%s: status %d body %s", name, r.status, r.body)
			}
		}
	}
}

func TestUserIDClaims(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	now := e.clock.Now()
	base := func(extra jwt.MapClaims) string {
		c := jwt.MapClaims{"aud": e.audBase + "/client/?hub=chat", "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return sign(t, testKey, c)
	}
	cases := map[string]jwt.MapClaims{
		"u-uid":    {"asrs.s.uid": "u-uid", "nameid": "ignored", "sub": "ignored"},
		"u-nameid": {"nameid": []string{"u-nameid", "second"}, "sub": "ignored"},
		"u-sub":    {"sub": "u-sub"},
	}
	clients := map[string]*client{}
	for user, claims := range cases {
		tok := base(claims)
		n := e.negotiate("chat", tok)
		c := e.dial("chat", n.ConnectionToken, tok, false)
		c.handshake()
		clients[user] = c
	}
	for user, c := range clients {
		if r := e.rest("POST", "/api/hubs/chat/users/"+user+"/:send", apiV, `{"target":"who","arguments":["`+user+`"]}`); r.status != 202 {
			t.Fatal(r.status)
		}
		c.expectInvocation("who", `"`+user+`"`)
	}
}

func TestRESTTokenRejections(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	path := "/api/hubs/chat/:send"
	body := `{"target":"m","arguments":[]}`

	r := e.restWithToken("POST", path, apiV, body, "")
	expect401(t, r, "", "Authorization: Bearer")

	wrong := e.restToken("/api/hubs/chat/users/alice/:send?" + apiV)
	expect401(t, e.restWithToken("POST", path, apiV, body, wrong), wrong,
		`expected "http://localhost/api/hubs/chat/:send?api-version=2022-06-01"`, "users/alice")

	// A client token is refused by REST.
	ct := e.clientToken("chat", "")
	expect401(t, e.restWithToken("POST", path, apiV, body, ct), ct, "client token cannot call the REST API")

	// aud with another api-version than the request.
	other := e.restToken(path + "?api-version=2021-01-01")
	expect401(t, e.restWithToken("POST", path, apiV, body, other), other, "expected")

	// Accepted forms: no query, api-version, application+api-version, port and
	// trailing slash; excluded/reason not needed in aud.
	for _, aud := range []string{path, path + "?" + apiV, path + "/"} {
		if r := e.restWithToken("POST", path, apiV+"&excluded=x", body, e.restToken(aud)); r.status != 202 {
			t.Errorf("aud %s: status %d %s", aud, r.status, r.body)
		}
	}
	appAud := "/api/hubs/chat/:send?application=myapp&" + apiV
	if r := e.restWithToken("POST", path, "application=MyApp&"+apiV, body, e.restToken(appAud)); r.status != 202 {
		t.Errorf("application aud: %d %s", r.status, r.body)
	}
	u := strings.Replace(e.srv.URL, "http://", "", 1)
	withPort := sign(t, testKey, jwt.MapClaims{"aud": "http://" + u + path, "exp": e.clock.Now().Add(time.Hour).Unix()})
	if r := e.restWithToken("POST", path, apiV, body, withPort); r.status != 202 {
		t.Errorf("aud with port: %d %s", r.status, r.body)
	}
}

// TestConnectionTokenOfAnotherUser: a connection token negotiated by alice,
// presented with bob's access token, opens nothing on any transport (403)
// and stays usable by alice.
func TestConnectionTokenOfAnotherUser(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	bob := e.clientToken("chat", "bob")
	for _, transport := range []string{"WebSockets", "ServerSentEvents", "LongPolling"} {
		alice := e.clientToken("chat", "alice")
		n := e.negotiate("chat", alice)
		switch transport {
		case "WebSockets":
			_, resp, err := e.tryDial("chat", n.ConnectionToken, bob, false)
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s: bob with alice's connection token: err=%v resp=%v", transport, err, resp)
			}
			c := e.dial("chat", n.ConnectionToken, alice, false)
			c.handshake()
		default:
			req, _ := http.NewRequest(http.MethodGet, e.clientURL("chat", n.ConnectionToken), nil)
			req.Header.Set("Authorization", "Bearer "+bob)
			if transport == "ServerSentEvents" {
				req.Header.Set("Accept", "text/event-stream")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-ms-error-code") != "Error.Forbidden" {
				t.Fatalf("%s: bob with alice's connection token: %d", transport, resp.StatusCode)
			}
			var hc *httpClient
			if transport == "ServerSentEvents" {
				hc = e.openSSE("chat", n.ConnectionToken, alice)
			} else {
				hc = e.openLongPolling("chat", n.ConnectionToken, alice)
			}
			hc.handshake()
		}
	}
}
