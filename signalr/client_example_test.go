package signalr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
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

// standIn returns a local stand-in for the service that prints each
// request, answers status, and returns its connection string.
func standIn(status int) (connStr string, closeFn func()) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(strings.TrimSpace(r.Method + " " + r.RequestURI + " " + string(body)))
		w.WriteHeader(status)
	}))
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	return "Endpoint=http://127.0.0.1;Port=" + port + ";AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;", srv.Close
}

// ExampleNewClientFromConnectionString broadcasts to every connection of a
// hub, to one user and to one connection.
func ExampleNewClientFromConnectionString() {
	connStr, stop := standIn(http.StatusAccepted)
	defer stop()
	client, err := signalr.NewClientFromConnectionString(connStr, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	msg, _ := signalr.NewMessage("newMessage", "hi")
	client.SendToAll(ctx, "chat", msg, &signalr.SendToAllOptions{Excluded: []string{"conn-0"}})
	client.SendToUser(ctx, "chat", "alice", msg, nil)
	client.SendToConnection(ctx, "chat", "conn-1", msg, nil)
	// Output:
	// POST /api/hubs/chat/:send?api-version=2022-06-01&excluded=conn-0 {"target":"newMessage","arguments":["hi"]}
	// POST /api/hubs/chat/users/alice/:send?api-version=2022-06-01 {"target":"newMessage","arguments":["hi"]}
	// POST /api/hubs/chat/connections/conn-1/:send?api-version=2022-06-01 {"target":"newMessage","arguments":["hi"]}
}

// ExampleClient_AddUserToGroup manages group membership, with a TTL.
func ExampleClient_AddUserToGroup() {
	connStr, stop := standIn(http.StatusOK)
	defer stop()
	client, _ := signalr.NewClientFromConnectionString(connStr, nil)
	ctx := context.Background()
	ttl := 10 * time.Minute
	client.AddUserToGroup(ctx, "chat", "room 1", "alice", &signalr.AddUserToGroupOptions{TTL: &ttl})
	client.AddConnectionToGroup(ctx, "chat", "room 1", "conn-1", nil)
	client.RemoveUserFromAllGroups(ctx, "chat", "alice", nil)
	// Output:
	// PUT /api/hubs/chat/users/alice/groups/room%201?api-version=2022-06-01&ttl=600
	// PUT /api/hubs/chat/groups/room%201/connections/conn-1?api-version=2022-06-01
	// DELETE /api/hubs/chat/users/alice/groups?api-version=2022-06-01
}

// ExampleClient_UserExists checks presence; a 404 is an answer, not an
// error.
func ExampleClient_UserExists() {
	connStr, stop := standIn(http.StatusNotFound)
	defer stop()
	client, _ := signalr.NewClientFromConnectionString(connStr, nil)
	r, err := client.UserExists(context.Background(), "chat", "bob", nil)
	fmt.Println(r.Exists, err)
	// Output:
	// HEAD /api/hubs/chat/users/bob?api-version=2022-06-01
	// false <nil>
}

// ExampleClient_Health probes the service; a failure is a typed error.
func ExampleClient_Health() {
	connStr, stop := standIn(http.StatusServiceUnavailable)
	defer stop()
	o := &signalr.ClientOptions{}
	o.Retry.MaxRetries = -1 // one try, for the example
	client, _ := signalr.NewClientFromConnectionString(connStr, o)
	_, err := client.Health(context.Background(), nil)
	var re *signalr.ResponseError
	if errors.As(err, &re) {
		fmt.Println("unhealthy:", re.StatusCode)
	}
	// Output:
	// HEAD /api/health?api-version=2022-06-01
	// unhealthy: 503
}

// ExampleIsOutcomeUnknown tells a failed send that may still have been
// delivered (here the service answered 500) from one that was not: only the
// latter is safe to resend.
func ExampleIsOutcomeUnknown() {
	connStr, stop := standIn(http.StatusInternalServerError)
	defer stop()
	client, _ := signalr.NewClientFromConnectionString(connStr, nil)
	msg, _ := signalr.NewMessage("newMessage", "once")
	_, err := client.SendToAll(context.Background(), "chat", msg, nil)
	fmt.Println("may have been delivered:", signalr.IsOutcomeUnknown(err))
	// Output:
	// POST /api/hubs/chat/:send?api-version=2022-06-01 {"target":"newMessage","arguments":["once"]}
	// may have been delivered: true
}

// tokenCred stands in for an azidentity credential.
type tokenCred struct{}

func (tokenCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "entra-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// ExampleNewClient authenticates with Microsoft Entra ID: any
// azcore.TokenCredential (azidentity.NewDefaultAzureCredential in
// production) and the service's endpoint.
func ExampleNewClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.URL.Path, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	client, err := signalr.NewClient(srv.URL, tokenCred{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, _ := signalr.NewMessage("newMessage", "hi")
	_, err = client.SendToGroup(context.Background(), "chat", "ops", msg, nil)
	fmt.Println(err)
	// Output:
	// POST /api/hubs/chat/groups/ops/:send Bearer entra-token
	// <nil>
}

// ExampleClient_Signer is the core of a negotiate endpoint: the client URL
// and a client access token signed with the client's key (the AccessKey,
// or with Microsoft Entra ID the key the service hands out).
func ExampleClient_Signer() {
	connStr := "Endpoint=https://contoso.service.signalr.net;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"
	cs, _ := signalr.ParseConnectionString(connStr)
	client, _ := signalr.NewClientFromConnectionString(connStr, nil)
	signer, err := client.Signer(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	token, _ := signer.Sign(cs.ClientAudience("chat"), &signalr.TokenOptions{UserID: "alice"})
	fmt.Println(cs.ClientURL("chat"))
	fmt.Println(strings.Count(token, "."))
	// Output:
	// https://contoso.service.signalr.net/client/?hub=chat
	// 2
}
