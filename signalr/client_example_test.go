package signalr_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/serverless-signalr/functions-go/signalr"
)

// ExampleClient_SendToGroup sends a message to a group through a local
// stand-in for the service and shows the request the service receives.
func ExampleClient_SendToGroup() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.Method, r.RequestURI)
		fmt.Println(string(body))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]

	cs, err := signalr.ParseConnectionString("Endpoint=http://127.0.0.1;Port=" + port + ";AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;")
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := signalr.NewClient(cs, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, _ := signalr.NewMessage("newMessage", "hello", 42)
	_, err = client.SendToGroup(context.Background(), "Chat", "team a/b", msg, nil)
	fmt.Println("error:", err, "code:", signalr.ErrorCode(err) == "")
	// Output:
	// POST /api/hubs/chat/groups/team%20a%2Fb/:send?api-version=2022-06-01
	// {"target":"newMessage","arguments":["hello",42]}
	// error: <nil> code: true
}

// ExampleErrorCode shows how a caller maps a failure to an error code.
func ExampleErrorCode() {
	cs, _ := signalr.ParseConnectionString("Endpoint=http://127.0.0.1;Port=1;AccessKey=k;Version=1.0;")
	client, _ := signalr.NewClient(cs, nil)
	_, err := client.SendToUser(context.Background(), "chat", "", signalr.Message{Target: "t"}, nil)
	fmt.Println(signalr.ErrorCode(err))
	// Output: broadcast.missing_id
}
