// Package signalr is a data-plane SDK for Azure SignalR Service in
// serverless mode, shaped like the Azure SDK for Go's azwebpubsub.
//
// It parses the service's connection strings ([ParseConnectionString]),
// builds the client URL and token audience a negotiate endpoint hands to
// @microsoft/signalr clients ([ConnectionString.ClientURL],
// [ConnectionString.ClientAudience]), validates hub and group names
// ([ValidateHubName], [ValidateGroupName]) and mints the HS256 client access
// tokens the service accepts ([GenerateAccessToken], [ClientAccessToken]).
//
// [Client] calls the REST API (api-version 2022-06-01): sends to all, users,
// connections and groups, group membership, connection management,
// existence checks and health. Create it with
// [NewClientFromConnectionString] (AccessKey, or the Microsoft Entra ID
// credential an AuthType names) or [NewClient] (an endpoint and any
// [azcore.TokenCredential]). Methods take a context, the required
// arguments and an optional *…Options, and return a …Response and an error.
//
// # Errors
//
// Errors are typed, and carry no secret: a *[ResponseError] (wrapping
// *azcore.ResponseError: status, x-ms-error-code, the service's message,
// the endpoint) when the service answered with a failure status; a
// *[ConnectionError] with a [ConnectionErrorKind] when there was no answer;
// a *[CircuitOpenError] while the breaker fails fast; *[ArgumentError] and
// *[PayloadTooLargeError] before anything is sent; *[ConnectionStringError]
// with a [ConnectionStringErrorKind] from the parser; *[UpstreamError] with
// an [UpstreamErrorKind] for a refused upstream call. [IsOutcomeUnknown]
// tells a send that may have been delivered although it failed.
//
// # Retry rule
//
// A message is never sent twice. A send (POST …/:send) is retried only when
// the service cannot have acted on it: the request was never completely
// written (DNS failure, connection refused or reset, a try timeout before
// the last byte left, observed with httptrace's WroteRequest and, on the
// transports the client builds, the bytes each connection accepted), or the
// service answered 408, 429 or 503. A send is never retried after a 500,
// 502 or 504, nor after a timeout or a broken connection once the request
// was written: the service may have delivered the message, and
// [IsOutcomeUnknown] reports true for that error, so that callers do not
// resend blindly. Every other operation (HEAD, PUT, DELETE, the idempotent
// POST :closeConnections and :generateToken, GET accessKey) is also retried
// on 500, 502, 504 and on timeouts or broken connections after the request
// was written. TLS handshake failures, failures to get an Entra ID token and
// cancellation by the caller are never retried.
//
// The retries follow azcore's retry policy (exponential backoff with
// 0.8–1.3× jitter from Retry.RetryDelay, capped by Retry.MaxRetryDelay; a
// retry-after-ms, x-ms-retry-after-ms or Retry-After header replaces the
// delay, and one longer than Retry.MaxRetryDelay ends the retries at once;
// a negative Retry.MaxRetries means no retries). What azcore cannot express
// is added around it: the retriable status codes are chosen per operation
// (a send must not be retried on 500, 502, 504); the whole call is bounded
// by [ClientOptions].RetryBudget (azcore has no total budget; when it runs
// out the last try's result is returned, not a bare context error); each
// try consults the circuit breaker and observes with httptrace whether the
// request was completely written, since azcore's policy cannot see
// whether a failed request reached the service.
//
// The rule has one implementation and two request paths (see
// [ClientOptions]). Through azcore's pipeline (Microsoft Entra ID, or an
// AccessKey client given policies) the retries are azcore's retry policy
// itself, with a per-call policy that sets the statuses and the budget and
// a per-try policy that marks the failures it must not retry as
// non-retriable. On the direct path of an AccessKey client a loop in the
// package does what azcore's policy does (and returns at once when the
// next delay would outlast the budget). Both call the same per-try step
// (breaker, httptrace, classification of the result) and take the
// statuses, budget and try timeout from the same place.
//
// The circuit breaker per endpoint ([BreakerOptions]) is not part of azcore
// and is hand-written: it fails fast while the endpoint is sick, half-opens
// after an open time that doubles from 1s up to 4s after failed probes, and
// is closed at once by a successful [Client.Health] probe, so calls resume
// within seconds of the service's recovery.
//
// # Adding an operation
//
// An operation is a method in its own file: validate the arguments with
// path() (hub, group, user and connection segments, escaped as the
// official SDKs escape them), describe the request as a call (operation
// name, HTTP method, path after "api/", api-version, query, body, send for
// non-idempotent sends, the success statuses) and pass it to Client.do,
// which signs it, sends it on the client's request path, retries it by
// the rule above and returns the response (body read) or a typed error.
// Decode a JSON answer with runtime.UnmarshalAsJSON, and return badAnswer
// for an unusable one.
//
// # Dependencies
//
// The package depends on the standard library, the Azure SDK for Go
// (azcore for its pipeline, policy types and response errors, azidentity
// for the credentials connection strings name).
//
// Secrets never leave the package in text form: the String and LogValue
// methods of [ConnectionString] and [AccessKey] redact keys and client
// secrets, and no error message repeats them.
package signalr
