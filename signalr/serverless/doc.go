// Package serverless is a Go hub API for Azure SignalR Service in serverless
// mode: the Go counterpart of the Functions extension's ServerlessHub class.
//
// A [Hub] registers a connected handler, a disconnected handler and hub
// methods by name. The service POSTs every client invocation and connection
// event to the upstream URL set on the service; [Hub.ServeHTTP] authenticates the call
// (signature or managed-identity token, see [signalr.UpstreamValidator]),
// decodes the client's arguments into the method's typed Go parameters (from
// JSON or MessagePack alike), calls the method within a per-call timeout
// with panics recovered, and answers with the completion the client's
// invoke() resolves or rejects with:
//
//	hub := serverless.New("chat", serverless.Options{Validator: v, Clients: clients})
//	hub.OnConnected(func(c *serverless.Context) error {
//		return c.Clients.All(c, "presence", c.ConnectionID)
//	})
//	hub.Method("sendMessage", func(c *serverless.Context, text string) (Message, error) {
//		m := Message{From: c.UserID, Text: text}
//		return m, c.Clients.All(c, "newMessage", m)
//	})
//	http.Handle("/api/upstream", hub)
//
// The [Context] carries the connection id, user id, claims, query and hub,
// and a hub-scoped [Clients] that sends to all, users, groups and
// connections, manages groups and closes connections through the service's
// REST API ([signalr.Client]).
//
// [Hub.Dispatch] runs the same handlers for calls that arrive another way,
// such as the Functions host's signalRTrigger invocations
// (customhandler.DecodeSignalRTrigger).
//
// Method names are matched case-insensitively, as ASP.NET Core SignalR
// does. An error a method returns is shown to the client as its message;
// panics are logged and shown as a generic message; an unknown method or a
// wrong argument count or type is an error completion that names the
// method. None of these closes the connection.
package serverless
