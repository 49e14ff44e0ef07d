// Package customhandler implements the Azure Functions custom-handler
// protocol for a Go HTTP app, so that one [http.Handler] per function serves
// both ways the Functions host (v4) can call it.
//
// # Forwarded mode
//
// With "enableForwardingHttpRequest": true in host.json, a function whose
// only bindings are one httpTrigger and one http output gets the caller's
// request forwarded as is, at its original path (/api/<route>). The app's
// handler serves it directly; nothing in this package is involved.
//
// # JSON mode
//
// Any function with another binding (signalRConnectionInfo, signalR, queue,
// ...) or with forwarding off is invoked with POST /<FunctionName> (the
// function folder's name, exact case) and a JSON envelope
// {"Data":{...},"Metadata":{...}}. [Handler] mounts the same http.Handler
// there: it decodes the envelope ([DecodeInvocation]), rebuilds the caller's
// request from Data.req ([InvocationRequest.HTTPTrigger],
// [HTTPTrigger.NewRequest]), serves it into an in-memory response and
// answers the host with an [InvocationResponse] whose Outputs.res is an
// [HTTPOutput]. Handler code adds per-invocation log lines with [Log].
//
// # Pitfalls handled
//
//   - Double encoding: the host serializes non-object values with
//     JsonConvert.SerializeObject, so strings may arrive as JSON strings
//     containing JSON; Data.req itself, Query (the docs show "Query": "{}"),
//     header value arrays and Url/Method are unwrapped once. Keys are matched
//     case-insensitively, as Newtonsoft does.
//   - Content-Type: the host only reads an application/json answer
//     (Azure/azure-functions-host#6462); Handler always sets it.
//   - Status: any non-2xx answer fails the invocation, discards Outputs and
//     Logs, and gives the caller a bare 500. Handler always answers 200 and
//     carries the caller's status in Outputs.res.statusCode, including its
//     own 400 request.invalid_envelope, 413 request.body_too_large and 500
//     internal (on a panic) errors, written by Options.WriteError (default [WriteError]).
//   - Body: res.body is always a pre-serialized string with an explicit
//     Content-Type (object bodies were mangled, host issue #6575); a body
//     without Content-Type gets a sniffed one, as net/http would send.
//   - Secrets: decode errors name the JSON path at fault and the kind of
//     value found, never the value (headers and URLs carry tokens and
//     function keys).
//
// # Limits
//
// The envelope (the caller's JSON-escaped body included) is bounded by
// [Options.MaxBodyBytes]; the host itself sends the envelope chunked, which
// is read as it arrives. A caller's chunked request (no Content-Length)
// never reaches a forwarded handler: the host fails it with 500 before
// calling the handler. In JSON mode it arrives without Body, since the
// host copies a body only when Content-Length is above 0
// (Azure/azure-functions-host HttpRequestExtensions; host issues #7930,
// #4926). Binary
// bodies are not decoded: the host sends them base64-encoded and this
// package passes Body through as text; response bodies must be valid UTF-8.
// Multi-valued response headers are joined with ", ", which is wrong for
// Set-Cookie. Content-Length, Transfer-Encoding and Connection response
// headers are dropped: they describe the connection to the host.
//
// [Port] and [IsFunctionsHost] read FUNCTIONS_CUSTOMHANDLER_PORT (and its
// legacy twin FUNCTIONS_HTTPWORKER_PORT); the host passes no flags.
package customhandler
