// Package signalr is a small data-plane SDK for Azure SignalR Service in
// serverless mode.
//
// It parses the service's connection strings ([ParseConnectionString]),
// builds the client URL and token audience a negotiate endpoint hands to
// @microsoft/signalr clients ([ConnectionString.ClientURL],
// [ConnectionString.ClientAudience]), validates hub and group names
// ([ValidateHubName], [ValidateGroupName]) and mints the HS256 client access
// tokens the service accepts ([GenerateAccessToken], [ClientAccessToken]).
// The same package holds the REST client for the service's data-plane API
// ([NewClient], api-version 2022-06-01): sends to all, users, connections and
// groups, group membership, connection management, existence checks and
// health, with Microsoft Entra ID ([NewCredential], [Client.AccessKey]) as
// well as AccessKey authentication.
//
// # Retry rule
//
// A message is never sent twice. A send is retried only when the service
// cannot have acted on it: the request was never completely written
// (DNS failure, connection refused or reset, a timeout before the last byte
// left), or the service answered 408, 429 or 503 (honouring Retry-After).
// A send is never retried after a 500, 502 or 504, nor after a timeout or a
// broken connection once the request was written. Idempotent operations
// (group membership, closes, existence checks, health) are retried on those
// too. Backoff is exponential with full jitter within a total time budget;
// a circuit breaker per endpoint fails fast while the endpoint is sick. See
// [RetryOptions] and [BreakerOptions].
//
// The package is standalone: it depends on the standard library,
// github.com/golang-jwt/jwt/v5 and the Azure SDK only. Its typed errors carry
// a Code string whose values match the error codes of the application that
// embeds it, so callers can map them without string matching.
//
// Secrets never leave the package in text form: the String and LogValue
// methods of [ConnectionString] and [AccessKey] redact keys and client
// secrets, and no error message repeats them.
package signalr
