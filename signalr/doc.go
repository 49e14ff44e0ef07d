// Package signalr is a small data-plane SDK for Azure SignalR Service in
// serverless mode.
//
// It parses the service's connection strings ([ParseConnectionString]),
// builds the client URL and token audience a negotiate endpoint hands to
// @microsoft/signalr clients ([ConnectionString.ClientURL],
// [ConnectionString.ClientAudience]), validates hub and group names
// ([ValidateHubName], [ValidateGroupName]) and mints the HS256 client access
// tokens the service accepts ([GenerateAccessToken], [ClientAccessToken]).
// The same package holds the REST client for the service's data-plane API.
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
