// Package emulator is a local, in-memory emulator of Azure SignalR Service in
// serverless mode: client negotiate and the WebSocket, Server-Sent Events and
// long-polling transports with the JSON hub protocol, and the data-plane REST
// API (api-version 2022-06-01 paths and the legacy /api/v1 paths) that
// backends use to send messages and manage groups.
//
// It is a development tool. It accepts client connections from any origin
// and answers CORS requests from any origin with credentials, like
// Microsoft's emulator. Unlike Microsoft's emulator it validates tokens the
// way the real service does (HS256 signature, exp, aud), and explains every
// rejection in the 401 body.
package emulator
