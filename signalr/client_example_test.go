package signalr_test

import (
	"context"
	"errors"
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

	client, err := signalr.NewClientFromConnectionString("Endpoint=http://127.0.0.1;Port="+port+";AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, _ := signalr.NewMessage("newMessage", "hello", 42)
	_, err = client.SendToGroup(context.Background(), "Chat", "team a/b", msg, nil)
	fmt.Println("error:", err)
	// Output:
	// POST /api/hubs/chat/groups/team%20a%2Fb/:send?api-version=2022-06-01
	// {"target":"newMessage","arguments":["hello",42]}
	// error: <nil>
}

// ExampleArgumentError shows that invalid arguments fail before anything
// is sent, with the argument named.
func ExampleArgumentError() {
	client, _ := signalr.NewClientFromConnectionString("Endpoint=http://127.0.0.1;Port=1;AccessKey=k;Version=1.0;", nil)
	_, err := client.SendToUser(context.Background(), "chat", "", signalr.Message{Target: "t"}, nil)
	var ae *signalr.ArgumentError
	if errors.As(err, &ae) {
		fmt.Println(ae.Name == signalr.ArgUserID, ae.Reason)
	}
	// Output: true must not be empty
}
