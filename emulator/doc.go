// Package emulator is a local, in-memory emulator of Azure SignalR Service in
// serverless mode: client negotiate (versions 0 and 1) and the WebSocket,
// Server-Sent Events and long-polling transports with the JSON and
// MessagePack hub protocols (MessagePack on WebSockets and long polling),
// stateful reconnect, client and keep-alive timeouts, and the data-plane
// REST API (api-version 2022-06-01 to 2024-12-01 paths, checked, and the
// legacy /api/v1 paths) that backends use to send messages and manage
// groups.
//
// It is a development tool. It accepts client connections from any origin
// and answers CORS requests from any origin with credentials, like
// Microsoft's emulator. Unlike Microsoft's emulator it validates tokens the
// way the real service does (HS256 signature, exp, aud), and explains every
// rejection in the 401 body.
package emulator
