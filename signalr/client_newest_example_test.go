package signalr_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/serverless-signalr/functions-go/emulator"
	"github.com/serverless-signalr/functions-go/signalr"
	"github.com/serverless-signalr/functions-go/signalr/filter"
)

func ExampleClient_Execute() {
	// A local emulator stands in for the service.
	em := emulator.New(emulator.Options{})
	defer em.Close()
	srv := httptest.NewServer(em)
	defer srv.Close()
	client, err := signalr.NewClientFromConnectionString(em.ConnectionString(srv.URL), nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	// Every listener not muted joins "news" and gets a greeting; the
	// builder quotes the values.
	f := filter.And(filter.StartsWith(filter.UserID, "listener-"), filter.Not(filter.InGroup("muted")))
	msg, _ := signalr.NewMessage("greet", "welcome")
	_, err = client.Execute(ctx, "chat", []signalr.Command{
		signalr.JoinGroupCommand("news"),
		signalr.SendMessageCommand(msg),
	}, &signalr.ExecuteOptions{Filter: f.String()})
	fmt.Println(f, err)

	// Who is in "news", every page.
	pager := client.NewListConnectionsInGroupPager("chat", "news", nil)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			panic(err)
		}
		n += len(page.Value)
	}
	fmt.Println(n, "members")
	// Output:
	// startswith(userId, 'listener-') and not ('muted' in groups) <nil>
	// 0 members
}
