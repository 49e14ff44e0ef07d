package signalr_test

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/serverless-signalr/functions-go/signalr"
)

func ExampleParseConnectionString() {
	cs, err := signalr.ParseConnectionString("Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cs)
	fmt.Println("client URL:", cs.ClientURL("Chat"))
	fmt.Println("audience:  ", cs.ClientAudience("Chat"))
	fmt.Println("REST base: ", cs.ServerBase())
	// Output:
	// Endpoint=http://localhost;Port=8888;AccessKey=***;Version=1.0;
	// client URL: http://localhost:8888/client/?hub=chat
	// audience:   http://localhost/client/?hub=chat
	// REST base:  http://localhost:8888/
}

func ExampleParseConnectionString_error() {
	_, err := signalr.ParseConnectionString("Endpoint=https://contoso.service.signalr.net;AccessKey=secret;Port=70000")
	if ce, ok := err.(*signalr.ConnectionStringError); ok {
		fmt.Println(ce.Kind == signalr.ConnectionStringInvalidPort, ce.Key)
		fmt.Println(ce.Message)
	}
	// Output:
	// true Port
	// invalid value for Port: "70000" is not an integer between 1 and 65535
}

func ExampleGenerateAccessToken() {
	key := signalr.AccessKey{Value: "my-access-key"}
	aud := "https://contoso.service.signalr.net/client/?hub=chat"
	now := time.Unix(1700000000, 0)
	token, err := signalr.GenerateAccessToken(key, aud, &signalr.TokenOptions{
		UserID: "alice",
		Claims: []signalr.Claim{{Type: "role", Value: "admin"}, {Type: "role", Value: "ops"}},
		Now:    now,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Verify the token as the service would: HS256 with the key's UTF-8 bytes.
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(key.Value), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(aud),
		jwt.WithTimeFunc(func() time.Time { return now.Add(time.Minute) }))
	fmt.Println("valid:", err == nil)
	fmt.Println("user:", claims["asrs.s.uid"])
	fmt.Println("roles:", claims["role"])
	fmt.Println("lifetime:", time.Duration(claims["exp"].(float64)-claims["iat"].(float64))*time.Second)
	// Output:
	// valid: true
	// user: alice
	// roles: [admin ops]
	// lifetime: 1h0m0s
}

func ExampleClientAccessToken() {
	cs, err := signalr.ParseConnectionString("Endpoint=https://contoso.service.signalr.net;AccessKey=my-access-key;Version=1.0;")
	if err != nil {
		fmt.Println(err)
		return
	}
	token, err := signalr.ClientAccessToken(cs, "Chat", &signalr.TokenOptions{UserID: "bob", Lifetime: 10 * time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(cs.AccessKey), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(cs.ClientAudience("Chat")))
	fmt.Println("valid:", err == nil && parsed.Valid)
	fmt.Printf("negotiate: {\"url\":%q,\"accessToken\":\"…\"}\n", cs.ClientURL("Chat"))
	// Output:
	// valid: true
	// negotiate: {"url":"https://contoso.service.signalr.net/client/?hub=chat","accessToken":"…"}
}

func ExampleValidateHubName() {
	fmt.Println(signalr.ValidateHubName("chat"))
	fmt.Println(signalr.ValidateHubName("chat-room"))
	// Output:
	// <nil>
	// invalid hub name "chat-room": it contains '-' at byte 4 (hub names start with a letter and contain only letters, digits and _`,.[], at most 128 characters)
}
