package serverless_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/serverless-signalr/functions-go/signalr"
	"github.com/serverless-signalr/functions-go/signalr/serverless"
)

// A hub with typed methods. The request below is what the service POSTs to
// the upstream when a client calls connection.invoke("greet", "Ann", 2).
func Example() {
	key := "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
	v, _ := signalr.NewUpstreamValidator(signalr.UpstreamOptions{AccessKeys: []string{key}})
	hub := serverless.New("chat", serverless.Options{Validator: v})
	hub.Method("greet", func(c *serverless.Context, name string, times int) (string, error) {
		if times < 1 {
			return "", errors.New("times must be positive")
		}
		return strings.Repeat("hello "+name+" ", times) + "from " + c.ConnectionID, nil
	})

	r := httptest.NewRequest("POST", "/api/upstream", strings.NewReader(`{"type":1,"invocationId":"1","target":"greet","arguments":["Ann",2]}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-ASRS-Connection-Id", "conn1")
	r.Header.Set("X-ASRS-Hub", "chat")
	r.Header.Set("X-ASRS-Category", "messages")
	r.Header.Set("X-ASRS-Event", "greet")
	r.Header.Set("X-ASRS-Signature", signalr.UpstreamSignature("conn1", key))
	w := httptest.NewRecorder()
	hub.ServeHTTP(w, r)
	fmt.Printf("%d %q\n", w.Code, w.Body.String())
	// Output: 200 "{\"type\":3,\"invocationId\":\"1\",\"result\":\"hello Ann hello Ann from conn1\"}\x1e"
}

// Serving a hub on the upstream route of an app; its methods reach other
// connections through the service's REST API.
func ExampleHub_OnConnected() {
	const connStr = "Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"
	cs, _ := signalr.ParseConnectionString(connStr)
	client, _ := signalr.NewClientFromConnectionString(connStr, nil)
	v, _ := signalr.NewUpstreamValidator(signalr.UpstreamOptions{Endpoints: []*signalr.ConnectionString{cs}})
	hub := serverless.New("chat", serverless.Options{Validator: v, Clients: []*signalr.Client{client}})
	hub.OnConnected(func(c *serverless.Context) error {
		return c.Others("presence", map[string]string{"connectionId": c.ConnectionID, "event": "connected"})
	})
	hub.Method("joinGroup", func(c *serverless.Context, group string) error { return c.JoinGroup(group) })
	http.Handle("POST /api/upstream", hub)
	fmt.Println(hub.Name())
	// Output: chat
}
