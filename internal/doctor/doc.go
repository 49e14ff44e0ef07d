// Package doctor diagnoses the setup of the SignalR custom handler: the
// settings, the Functions app layout (host.json, function.json, the
// executable), the connection string, every configured endpoint of Azure
// SignalR Service (DNS, TCP, TLS, health, an authenticated REST call, clock
// skew; for Microsoft Entra ID endpoints the credential's token, the
// signing key negotiate fetches and the identity's roles), the size of
// client tokens, CORS and, given the URL of a running handler (and, for a
// handler that refuses anonymous callers, a bearer token), negotiate end to
// end as @microsoft/signalr performs it, up to the hub protocol handshake on
// the client WebSocket (which catches a service left in Default mode).
//
// `handler doctor` is [Main]. Each check yields a [Finding] whose code is one
// of the apperr taxonomy, so the doctor, the startup log ([Explain]) and the
// error bodies clients see use the same words. The doctor sends requests
// only to the configured endpoints and to the --url given; it never prints
// an access key or a token.
package doctor
