package apperr

import (
	"net/http"

	"github.com/serverless-signalr/functions-go/customhandler"
)

// Info describes one code of the taxonomy: the HTTP status clients get, the
// usual cause and the fix. The README's error table lists the same entries.
type Info struct {
	Code   string
	Status int
	Cause  string
	Fix    string
}

// Codes of the taxonomy. A code, once published, never changes meaning.
const (
	CodeInternal = customhandler.CodeInternal

	// Requests that do not reach a function.
	CodeRouteNotFound     = "request.route_not_found"
	CodeMethodNotAllowed  = "request.method_not_allowed"
	CodeInvalidEnvelope   = customhandler.CodeInvalidEnvelope
	CodeBodyTooLarge      = customhandler.CodeBodyTooLarge
	CodeBodyTimeout       = "request.body_timeout"
	CodeBodyIncomplete    = "request.body_incomplete"
	CodeCORSOriginDenied  = "cors.origin_not_allowed"
	CodeNotImplemented    = "request.not_implemented"
	CodeHandlerOverloaded = "request.overloaded"
	// CodeUnsupportedMediaType: a function that changes state got a body
	// that is not application/json.
	CodeUnsupportedMediaType = "request.unsupported_media_type"

	// Negotiate.
	CodeNegotiateUnauthenticated = "negotiate.unauthenticated"
	CodeNegotiateInvalidHub      = "negotiate.invalid_hub"
	CodeNegotiateHubNotAllowed   = "negotiate.hub_not_allowed"
	CodeNegotiateTokenTooLarge   = "negotiate.token_too_large"
	CodeNegotiateInvalidClaim    = "negotiate.invalid_claim"
	CodeNegotiateNoEndpoint      = "negotiate.no_endpoint"
	CodeNegotiateKeyUnavailable  = "negotiate.key_unavailable"

	// Identity (negotiate and broadcast).
	CodeAuthMalformedToken  = "auth.malformed_token"
	CodeAuthTokenExpired    = "auth.token_expired"
	CodeAuthTokenNotYet     = "auth.token_not_yet_valid"
	CodeAuthInvalidAudience = "auth.invalid_audience"
	CodeAuthInvalidIssuer   = "auth.invalid_issuer"
	CodeAuthInvalidSig      = "auth.invalid_signature"
	CodeAuthUnknownKey      = "auth.unknown_key"
	CodeAuthAlgorithm       = "auth.algorithm_not_allowed"
	CodeAuthJWKSUnavailable = "auth.jwks_unavailable"
	CodeAuthForbidden       = "auth.forbidden"
	CodeAuthInvalidEasyAuth = "auth.invalid_client_principal"
	CodeAuthInvalidUserID   = "auth.invalid_user_id"
	CodeAuthCriticalHeader  = "auth.unsupported_critical_header"

	// Broadcast.
	CodeBroadcastInvalidJSON     = "broadcast.invalid_json"
	CodeBroadcastMissingTarget   = "broadcast.missing_target"
	CodeBroadcastUnknownAction   = "broadcast.unknown_action"
	CodeBroadcastMissingID       = "broadcast.missing_id"
	CodeBroadcastInvalidHub      = "broadcast.invalid_hub"
	CodeBroadcastInvalidGroup    = "broadcast.invalid_group"
	CodeBroadcastInvalid         = "broadcast.invalid_message"
	CodeBroadcastTooLarge        = "broadcast.too_large"
	CodeBroadcastEmpty           = "broadcast.empty"
	CodeBroadcastUnauthenticated = "broadcast.unauthenticated"
	// CodeBroadcastInvalidFilter: an item's filter does not parse.
	CodeBroadcastInvalidFilter = "broadcast.invalid_filter"
	// CodeBroadcastFilterConflict: filter combined with userId or
	// connectionId (or ttl, or removeAll).
	CodeBroadcastFilterConflict = "broadcast.filter_conflict"

	// Presence (GET /api/presence).
	CodePresenceMissingGroup = "presence.missing_group"
	CodePresenceInvalidGroup = "presence.invalid_group"

	// Invoke (POST /api/invoke): client results.
	CodeInvokeInvalid            = "invoke.invalid_request"
	CodeInvokeClientError        = "invoke.client_error"
	CodeInvokeConnectionNotFound = "invoke.connection_not_found"
	CodeInvokeTimeout            = "invoke.timeout"
	// CodeServiceFeatureMissing: the service answered 404 to an operation
	// of a newer api-version (2023-07-01 :execute, 2024-12-01 :invoke and
	// group listing): the region or tier does not offer it yet.
	CodeServiceFeatureMissing = "service.feature_unavailable"

	// Upstream: calls from the service to /api/upstream. FromSignalR maps
	// the SDK's signalr.UpstreamErrorKind values to these.
	CodeUpstreamMissingHeader      = "upstream.missing_header"
	CodeUpstreamUnsupportedMedia   = "upstream.unsupported_media_type"
	CodeUpstreamInvalidBody        = "upstream.invalid_body"
	CodeUpstreamBodyTooLarge       = "upstream.body_too_large"
	CodeUpstreamSignatureMissing   = "upstream.signature_missing"
	CodeUpstreamSignatureMalformed = "upstream.signature_malformed"
	CodeUpstreamSignatureMismatch  = "upstream.signature_mismatch"
	CodeUpstreamTokenInvalid       = "upstream.token_invalid"
	CodeUpstreamUnauthenticated    = "upstream.unauthenticated"
	CodeUpstreamUnknownHub         = "upstream.unknown_hub"
	CodeUpstreamEventFailed        = "upstream.event_failed"
	CodeUpstreamNotConfigured      = "upstream.not_configured"
	CodeUpstreamMethodFailed       = "upstream.method_failed"
	CodeConfigUpstreamUnsigned     = "config.upstream_unsigned_in_azure"

	// The service's REST API, as seen by the handler.
	CodeServiceUnauthorized = "service.unauthorized"
	CodeServiceForbidden    = "service.forbidden"
	CodeServiceNotFound     = "service.not_found"
	CodeServiceBadRequest   = "service.bad_request"
	CodeServiceThrottled    = "service.throttled"
	CodeServiceUnavailable  = "service.unavailable"
	CodeServiceTimeout      = "service.timeout"
	CodeServiceCircuitOpen  = "service.circuit_open"
	CodeServiceError        = "service.error"
	CodeServiceUnreachable  = "service.unreachable"
	CodeServiceTLS          = "service.tls"
	// CodeServiceOutcomeUnknown: a send failed after the service may have
	// delivered it (a timeout or broken connection after the request was
	// written, or 500/502/504); it is never retried.
	CodeServiceOutcomeUnknown = "service.outcome_unknown"
	// CodeServiceConnectionNotFound: the connection of a group action or
	// send is gone (404 Error.Connection.NotExisted).
	CodeServiceConnectionNotFound = "service.connection_not_found"
	// CodeServiceNotServerless: clients are refused at the handshake because
	// the service is in Default mode without app servers (doctor only).
	CodeServiceNotServerless = "service.not_serverless"
	CodeServiceClockSkew     = "service.clock_skew"

	// The running handler, as seen by `handler doctor --url`.
	CodeHandlerUnreachable = "handler.unreachable"
	CodeHandlerBadResponse = "handler.bad_response"

	// Startup of the running handler.
	CodeStartupListenFailed = "startup.listen_failed"

	// Settings, reported at startup and by `handler doctor`.
	CodeConfigInvalid                 = "config.invalid"
	CodeConfigConnStrMissing          = "config.connection_string.missing"
	CodeConfigConnStrMalformed        = "config.connection_string.malformed"
	CodeConfigConnStrDuplicate        = "config.connection_string.duplicate_key"
	CodeConfigConnStrMissingEndpoint  = "config.connection_string.missing_endpoint"
	CodeConfigConnStrInvalidEndpoint  = "config.connection_string.invalid_endpoint"
	CodeConfigConnStrMissingVersion   = "config.connection_string.missing_version"
	CodeConfigConnStrInvalidVersion   = "config.connection_string.invalid_version"
	CodeConfigConnStrInvalidPort      = "config.connection_string.invalid_port"
	CodeConfigConnStrInvalidClientEP  = "config.connection_string.invalid_client_endpoint"
	CodeConfigConnStrInvalidServerEP  = "config.connection_string.invalid_server_endpoint"
	CodeConfigConnStrMissingAccessKey = "config.connection_string.missing_access_key"
	CodeConfigConnStrMissingClientID  = "config.connection_string.missing_client_id"
	CodeConfigConnStrMissingTenantID  = "config.connection_string.missing_tenant_id"
	CodeConfigConnStrMissingAppSecret = "config.connection_string.missing_client_secret"
	CodeConfigCORSWildcardCredentials = "config.cors.wildcard_with_credentials"
	CodeConfigDevUserIDInAzure        = "config.dev_user_id_in_azure"
	CodeConfigIdentity                = "config.identity"
	CodeConfigEndpoints               = "config.endpoints"
	CodeConfigHostJSON                = "config.host_json"
	CodeConfigFunctionJSON            = "config.function_json"
	CodeConfigExecutable              = "config.executable"
)

var registry = []Info{
	{CodeInternal, http.StatusInternalServerError, "A bug in the handler.", "Report it with the log line that carries the same code."},

	{CodeRouteNotFound, http.StatusNotFound, "The path matches no function: a wrong route, or '/negotiate' appended twice.", "Give the SignalR client the base URL ending in /api (it appends /negotiate itself); run `handler doctor` to compare host.json and function.json with the handler's routes."},
	{CodeMethodNotAllowed, http.StatusMethodNotAllowed, "The function does not accept this HTTP method.", "Negotiate accepts POST, GET and OPTIONS; broadcast accepts POST. Check `methods` in function.json."},
	{CodeInvalidEnvelope, http.StatusBadRequest, "The Functions host's JSON invocation envelope could not be decoded.", "Check that function.json has one httpTrigger named req and one http output named res."},
	{CodeBodyTooLarge, http.StatusRequestEntityTooLarge, "The request body is larger than the handler accepts.", "Send a smaller body; REST messages are limited to 1 MB by the service."},
	{CodeBodyTimeout, http.StatusRequestTimeout, "The request body did not arrive within HANDLER_READ_TIMEOUT (a slow or stalled client).", "Send the whole body at once; raise HANDLER_READ_TIMEOUT only for clients on very slow links."},
	{CodeBodyIncomplete, http.StatusBadRequest, "The connection failed before the request body ended (fewer bytes than Content-Length, or a broken chunked body).", "Retry the request; check proxies between the caller and the handler."},
	{CodeCORSOriginDenied, http.StatusForbidden, "The page's origin is not in the allowed CORS origins.", "Add the exact origin (scheme://host:port) to CORS_ALLOWED_ORIGINS, or `az functionapp cors add` in Azure."},
	{CodeNotImplemented, http.StatusNotImplemented, "The function exists but is not implemented in this version.", "Upgrade the handler."},
	{CodeUnsupportedMediaType, http.StatusUnsupportedMediaType, "A function that changes state (broadcast) got a body without Content-Type application/json: another type, or none. Browsers send other types across origins without asking first (no CORS preflight), so they are refused.", "Send `Content-Type: application/json` (a charset parameter is fine)."},
	{CodeHandlerOverloaded, http.StatusServiceUnavailable, "The handler has more requests in flight than it is configured to serve.", "Retry after the delay in Retry-After, or scale out."},

	{CodeNegotiateUnauthenticated, http.StatusUnauthorized, "Anonymous negotiate is refused and the request carried no credentials.", "Send `Authorization: Bearer <token>` (accessTokenFactory in @microsoft/signalr) or enable App Service Authentication; or set ALLOW_ANONYMOUS=true."},
	{CodeNegotiateInvalidHub, http.StatusBadRequest, "The hub name is not valid for Azure SignalR Service.", "Hub names start with a letter and contain only letters, digits and _`,.[] (at most 128 characters)."},
	{CodeNegotiateHubNotAllowed, http.StatusForbidden, "The client asked for a hub that is not in the allow-list.", "Add the hub to SIGNALR_ALLOWED_HUBS, or drop ?hub= to use the default hub."},
	{CodeNegotiateTokenTooLarge, http.StatusRequestEntityTooLarge, "The SignalR access token would be longer than the service's 4096-character limit.", "Copy fewer claims into the token (SIGNALR_CLAIM_TYPES) or shorten their values; the error lists the largest claims."},
	{CodeNegotiateInvalidClaim, http.StatusBadRequest, "A claim could not be placed in the SignalR token (for example a reserved asrs.s.* name).", "Remove the claim type from SIGNALR_CLAIM_TYPES or have the identity provider stop issuing it."},
	{CodeNegotiateNoEndpoint, http.StatusServiceUnavailable, "No configured SignalR endpoint is healthy.", "Check `GET /api/health` and `handler doctor`; the service may be down or unreachable."},
	{CodeNegotiateKeyUnavailable, http.StatusServiceUnavailable, "The access key for signing client tokens could not be obtained from the service (Microsoft Entra ID mode).", "Check the identity's role assignment (SignalR App Server or Service Owner) and that the service is reachable; run `handler doctor`."},

	{CodeAuthMalformedToken, http.StatusUnauthorized, "The bearer token is not a well-formed JWT.", "Send the identity provider's token unchanged in `Authorization: Bearer` or the access_token query parameter."},
	{CodeAuthTokenExpired, http.StatusUnauthorized, "The bearer token has expired.", "Refresh the token in accessTokenFactory before calling negotiate; check the client's clock."},
	{CodeAuthTokenNotYet, http.StatusUnauthorized, "The bearer token is not valid yet (nbf or iat in the future).", "Check clock skew between the identity provider, the client and the server."},
	{CodeAuthInvalidAudience, http.StatusUnauthorized, "The bearer token was issued for another audience.", "Request the token for the audience in AUTH_JWT_AUDIENCE, or change that setting."},
	{CodeAuthInvalidIssuer, http.StatusUnauthorized, "The bearer token was issued by another issuer.", "Set AUTH_JWT_ISSUER to the identity provider's issuer exactly (trailing slash included)."},
	{CodeAuthInvalidSig, http.StatusUnauthorized, "The bearer token's signature does not verify.", "Check that AUTH_JWT_SECRET or AUTH_JWKS_URL belong to the identity provider that issued the token."},
	{CodeAuthUnknownKey, http.StatusUnauthorized, "The bearer token names a signing key (kid) that the JWKS does not contain.", "Check AUTH_JWKS_URL; keys rotate, and the JWKS is refreshed automatically."},
	{CodeAuthAlgorithm, http.StatusUnauthorized, "The bearer token uses an algorithm that is not allowed (for example none, or HS256 with an RSA key).", "Issue tokens with the algorithm configured for the handler (RS256/ES256 with a JWKS, HS256 with a secret)."},
	{CodeAuthJWKSUnavailable, http.StatusServiceUnavailable, "The identity provider's JWKS could not be fetched.", "Check AUTH_JWKS_URL and outbound network access."},
	{CodeAuthForbidden, http.StatusForbidden, "The caller is authenticated but lacks the required role.", "Grant the role named in the message, or change BROADCAST_REQUIRED_ROLE."},
	{CodeAuthInvalidEasyAuth, http.StatusUnauthorized, "The X-MS-CLIENT-PRINCIPAL header set by App Service Authentication could not be decoded.", "Check the App Service Authentication configuration; the header must be base64 JSON."},
	{CodeAuthInvalidUserID, http.StatusUnauthorized, "The caller's user id contains control or format characters (C0/C1 controls, U+2028/U+2029, bidi controls, zero-width characters) or is not UTF-8.", "Have the identity provider issue user ids of printable characters (or choose another claim with AUTH_USER_ID_CLAIM)."},
	{CodeAuthCriticalHeader, http.StatusUnauthorized, "The bearer token's header lists critical extensions (crit) the handler does not understand.", "Issue tokens without a crit header parameter; RFC 7515 requires refusing unknown critical extensions."},

	{CodeBroadcastInvalidJSON, http.StatusBadRequest, "The broadcast body is not valid JSON.", "Send a JSON object or array of SignalR messages or group actions."},
	{CodeBroadcastMissingTarget, http.StatusBadRequest, "A message has no target (the client method name).", "Add \"target\": \"newMessage\" (the name passed to connection.on)."},
	{CodeBroadcastUnknownAction, http.StatusBadRequest, "A group action names an unknown action.", "Use add, remove or removeAll."},
	{CodeBroadcastMissingID, http.StatusBadRequest, "A group action names neither a userId nor a connectionId.", "Add userId or connectionId."},
	{CodeBroadcastInvalidHub, http.StatusBadRequest, "The hub name is not valid.", "Hub names start with a letter and contain only letters, digits and _`,.[] (at most 128 characters)."},
	{CodeBroadcastInvalidGroup, http.StatusBadRequest, "The group name is empty, blank or longer than 1024 characters.", "Use a group name of 1 to 1024 characters that is not only white space."},
	{CodeBroadcastInvalid, http.StatusBadRequest, "A message or group action is not valid.", "See the message for the field at fault."},
	{CodeBroadcastTooLarge, http.StatusRequestEntityTooLarge, "A message is larger than the service's 1 MB REST limit.", "Send smaller messages, or split them."},
	{CodeBroadcastUnauthenticated, http.StatusUnauthorized, "BROADCAST_REQUIRE_AUTH is on and the caller presented no credentials.", "Call broadcast with `Authorization: Bearer <token>` (or through App Service Authentication), besides the function key."},
	{CodeBroadcastEmpty, http.StatusBadRequest, "The broadcast body holds no message.", "Send at least one message or group action."},
	{CodeBroadcastInvalidFilter, http.StatusBadRequest, "An item's filter is not a valid OData connection filter; the message says at which position and what was expected. Nothing was sent.", "Fix the filter, e.g. startswith(userId, 'listener-') or 'room1' in groups; quote strings with ' and double a ' inside them ('o''brien')."},
	{CodeBroadcastFilterConflict, http.StatusBadRequest, "An item combines filter with userId or connectionId (or a filtered group action has ttl, or is removeAll). Nothing was sent.", "Express the user or connection in the filter (userId eq 'u1' and ...), or drop the filter; groupName and excluded combine with a filter."},
	{CodePresenceMissingGroup, http.StatusBadRequest, "GET /api/presence needs ?group=NAME.", "Add ?group=<group name>."},
	{CodePresenceInvalidGroup, http.StatusBadRequest, "The group name is empty, blank or longer than 1024 characters.", "Use a group name of 1 to 1024 characters that is not only white space."},
	{CodeInvokeInvalid, http.StatusBadRequest, "The invoke body is not {\"connectionId\",\"target\",\"arguments\":[...],\"timeout\":seconds} or a field is out of range.", "Send connectionId and target; arguments must be an array; timeout is whole seconds from 1 to SIGNALR_INVOKE_MAX_TIMEOUT."},
	{CodeInvokeClientError, http.StatusBadGateway, "The client's handler for the target failed (it threw or returned an error); the message carries the client's error.", "Fix the client's connection.on handler, or handle this error; the client stays connected."},
	{CodeInvokeConnectionNotFound, http.StatusNotFound, "The connection is not connected to any endpoint, or it disconnected before it answered.", "Invoke a connection that is connected now; expect this when clients leave."},
	{CodeInvokeTimeout, http.StatusGatewayTimeout, "The client did not answer within the timeout (its handler did not return, or it has no handler for the target).", "Register the handler with connection.on(target, ...) and return a value; raise timeout (up to SIGNALR_INVOKE_MAX_TIMEOUT)."},
	{CodeServiceFeatureMissing, http.StatusNotImplemented, "The service answered 404 for an operation of a newer REST api-version (2023-07-01 filters, 2024-12-01 client invocation and group listing): the service in this region or tier does not offer it yet.", "Check the region's and tier's support of the api-version; run the emulator to develop meanwhile, or avoid the feature."},

	{CodeUpstreamMissingHeader, http.StatusBadRequest, "A call to the upstream lacks an X-ASRS-* header or has an unknown category or event: it does not come from the service.", "Only Azure SignalR Service (or the emulator with -upstream) should call /api/upstream; run `handler doctor --upstream URL` to send a correct call."},
	{CodeUpstreamUnsupportedMedia, http.StatusUnsupportedMediaType, "The upstream body is neither application/json nor application/x-msgpack.", "The service sends the client's protocol; a proxy in between must not change the Content-Type."},
	{CodeUpstreamInvalidBody, http.StatusBadRequest, "The upstream body is not an unframed hub-protocol invocation or connection event, or its target differs from X-ASRS-Event.", "Compare the body with concept-upstream.md; `handler doctor --upstream URL` sends a correct one."},
	{CodeUpstreamBodyTooLarge, http.StatusRequestEntityTooLarge, "The client's invocation is larger than the upstream accepts (1 MB).", "Send smaller messages from clients; the service recommends below 1 MB."},
	{CodeUpstreamSignatureMissing, http.StatusUnauthorized, "The upstream call has no X-ASRS-Signature header.", "Calls must come from the service; with Microsoft Entra ID endpoints set the upstream's auth to ManagedIdentity and UPSTREAM_TOKEN_ISSUER/UPSTREAM_TOKEN_AUDIENCE."},
	{CodeUpstreamSignatureMalformed, http.StatusUnauthorized, "X-ASRS-Signature has no entry of the form sha256=<64 hex digits>.", "Something between the service and the handler rewrote the header; call the handler directly."},
	{CodeUpstreamSignatureMismatch, http.StatusUnauthorized, "The signature matches no AccessKey of the handler's endpoints: the service signs with a key the handler does not have.", "Copy the current key into AzureSignalRConnectionString (`az signalr key list`); after a rotation give the handler the new key; run `handler doctor --upstream URL`."},
	{CodeUpstreamTokenInvalid, http.StatusUnauthorized, "The upstream's managed-identity bearer token was refused (issuer, audience, expiry or signature).", "Set UPSTREAM_TOKEN_ISSUER and UPSTREAM_TOKEN_AUDIENCE to the token the upstream's ManagedIdentity auth requests (its resource)."},
	{CodeUpstreamUnauthenticated, http.StatusUnauthorized, "The upstream call carries neither a signature nor a bearer token, and the endpoints have no AccessKey (Microsoft Entra ID).", "Set the upstream's auth to ManagedIdentity and UPSTREAM_TOKEN_ISSUER/UPSTREAM_TOKEN_AUDIENCE; UPSTREAM_ALLOW_UNSIGNED=true only for local development."},
	{CodeUpstreamUnknownHub, http.StatusNotFound, "The upstream call is for a hub this handler does not serve.", "Restrict the upstream setting's hub pattern to the hub in AzureSignalRHubName, or change that setting."},
	{CodeUpstreamEventFailed, http.StatusBadGateway, "A connected or disconnected handler of the hub failed (the service only logs it).", "See the handler's log line with the same code."},
	{CodeUpstreamMethodFailed, http.StatusBadGateway, "Through the signalRTrigger path, the hub method returned an error (or its result could not be serialized); the function fails so the extension answers the client with an error completion.", "See the message; the same method through /api/upstream gives the client this message as its error."},
	{CodeUpstreamNotConfigured, http.StatusServiceUnavailable, "The upstream has no validator to authenticate calls with.", "Report it: the handler always builds one."},

	{CodeServiceUnauthorized, http.StatusBadGateway, "The service rejected the handler's token (401: a wrong or rotated AccessKey, or an Entra token for another resource), or no Microsoft Entra ID token could be obtained.", "With an AccessKey: copy the current key with `az signalr key list` into AzureSignalRConnectionString. With Microsoft Entra ID: check that the identity can get a token for https://signalr.azure.com (AuthType, ClientId, TenantId) and belongs to the service's tenant. Run `handler doctor`."},
	{CodeServiceForbidden, http.StatusBadGateway, "The service refused the call (403): a missing role (Entra ID) or a network rule (private endpoint, ACL).", "Grant SignalR Service Owner to the identity, or allow the handler's network in the service's network ACLs."},
	{CodeServiceNotFound, http.StatusBadGateway, "The service answered 404: a wrong endpoint URL, or a resource not in Serverless mode.", "Check Endpoint in the connection string and that the service mode is Serverless."},
	{CodeServiceConnectionNotFound, http.StatusNotFound, "The connection named in the group action or send is not connected (404 Error.Connection.NotExisted): it disconnected, often just before the call, or the id is wrong.", "Expect this race when clients leave; act on connections you saw connect recently, or use userId (which covers all of a user's connections)."},
	{CodeServiceBadRequest, http.StatusBadGateway, "The service refused the request as invalid (400).", "See the service's message; check hub, group and user names."},
	{CodeServiceThrottled, http.StatusServiceUnavailable, "The service throttled the handler (429): connection or message quota reached.", "Retry later; scale the service up or out; the Free tier allows 20,000 messages a day."},
	{CodeServiceUnavailable, http.StatusServiceUnavailable, "The service is unavailable (503 or 5xx).", "Retry later; check the service's health in the Azure portal."},
	{CodeServiceTimeout, http.StatusGatewayTimeout, "The service did not answer in time, before anything could have been acted on (or for an idempotent call such as a group action).", "Retry; if it persists check network latency and SIGNALR_REST_TIMEOUT."},
	{CodeServiceOutcomeUnknown, http.StatusGatewayTimeout, "A message was sent but the service did not confirm it: the request was written and then timed out or the connection broke, or the service answered 500, 502 or 504. The message may already have been delivered.", "Do not resend automatically: resending may deliver it twice. Check whether clients received it, and resend only if duplicates are harmless."},
	{CodeServiceCircuitOpen, http.StatusServiceUnavailable, "The endpoint failed repeatedly and the handler stopped calling it for a while (circuit open).", "Wait for the breaker to half-open; check `GET /api/health`."},
	{CodeServiceError, http.StatusBadGateway, "The service answered with an unexpected error.", "See the service's error code in the message."},
	{CodeServiceUnreachable, http.StatusBadGateway, "The service could not be reached (DNS, TCP).", "Check the endpoint's host name, DNS and outbound network; run `handler doctor`."},
	{CodeServiceTLS, http.StatusBadGateway, "The TLS handshake with the service failed (version below 1.2 or an invalid certificate).", "Use an https endpoint that supports TLS 1.2 or later with a valid certificate; run `handler doctor`."},
	{CodeServiceNotServerless, 0, "The SignalR Service is in Default mode: clients negotiate but their connection is refused because no app server is connected; a Functions backend needs Serverless mode.", "Switch the service to Serverless: az signalr update -n NAME -g GROUP --service-mode Serverless (or Service mode in the portal's Settings)."},
	{CodeServiceClockSkew, 0, "This machine's clock differs from the service's: tokens look expired or not yet valid (exp, nbf) and the service answers 401.", "Synchronise the clock (NTP: `timedatectl set-ntp true`, or w32tm /resync on Windows)."},

	{CodeHandlerUnreachable, 0, "The running handler could not be reached or did not answer in time.", "Start it (`func start` or `make dev`) and pass its base URL ending in /api, e.g. --url http://localhost:7071/api."},
	{CodeHandlerBadResponse, 0, "Negotiate answered something @microsoft/signalr cannot use: not 200, not JSON, or without url and accessToken.", "See the message; negotiate must answer 200 application/json {\"url\",\"accessToken\"}."},

	{CodeStartupListenFailed, 0, "The handler cannot listen on its address: the port is in use (a second `make dev` or `func start`, another app), needs privileges, or the host address is not this machine's.", "See the message for what the operating system said; free the port or set FUNCTIONS_CUSTOMHANDLER_PORT (and HANDLER_LISTEN_HOST)."},
	{CodeConfigInvalid, 0, "A setting has an invalid value.", "Fix the setting named in the message; the README lists every setting."},
	{CodeConfigConnStrMissing, 0, "AzureSignalRConnectionString is not set.", "Copy a connection string with `az signalr key list -n NAME -g GROUP --query primaryConnectionString`, or use the local emulator's string."},
	{CodeConfigConnStrMalformed, 0, "The connection string has fewer than two key=value properties.", "Use the form Endpoint=https://NAME.service.signalr.net;AccessKey=KEY;Version=1.0; — copy it with `az signalr key list -n NAME -g GROUP --query primaryConnectionString -o tsv`."},
	{CodeConfigConnStrDuplicate, 0, "A property appears twice in the connection string.", "Keep one of each property (keys are case-insensitive)."},
	{CodeConfigConnStrMissingEndpoint, 0, "The connection string has no Endpoint.", "Add Endpoint=https://NAME.service.signalr.net; — copy the whole string with `az signalr key list -n NAME -g GROUP --query primaryConnectionString -o tsv`."},
	{CodeConfigConnStrInvalidEndpoint, 0, "Endpoint is not an absolute http or https URL.", "Write Endpoint=https://NAME.service.signalr.net (scheme included)."},
	{CodeConfigConnStrMissingVersion, 0, "The connection string has no Version: a warning at startup (the handler starts); older SDKs and tools reading the same setting require it.", "Append Version=1.0; as the portal's connection strings do."},
	{CodeConfigConnStrInvalidVersion, 0, "Version is not 1.x.", "Use Version=1.0."},
	{CodeConfigConnStrInvalidPort, 0, "Port is not an integer between 1 and 65535.", "Fix Port, or remove it to use the Endpoint's port."},
	{CodeConfigConnStrInvalidClientEP, 0, "ClientEndpoint is not an absolute http or https URL.", "Fix or remove ClientEndpoint."},
	{CodeConfigConnStrInvalidServerEP, 0, "ServerEndpoint is not an absolute http or https URL.", "Fix or remove ServerEndpoint."},
	{CodeConfigConnStrMissingAccessKey, 0, "The connection string has neither an AccessKey nor a recognised AuthType.", "Copy the connection string with `az signalr key list -n NAME -g GROUP --query primaryConnectionString -o tsv`, or use AuthType=azure / azure.msi / azure.app for Microsoft Entra ID."},
	{CodeConfigConnStrMissingClientID, 0, "AuthType=azure.app needs ClientId.", "Add ClientId=<application id>."},
	{CodeConfigConnStrMissingTenantID, 0, "AuthType=azure.app needs TenantId.", "Add TenantId=<directory id>."},
	{CodeConfigConnStrMissingAppSecret, 0, "AuthType=azure.app needs ClientSecret or ClientCert.", "Add ClientSecret=<secret> or ClientCert=<path to PEM/PFX>."},
	{CodeConfigCORSWildcardCredentials, 0, "CORS allows every origin (*) together with credentials; browsers refuse that combination, and @microsoft/signalr always sends credentials.", "List the exact origins in CORS_ALLOWED_ORIGINS."},
	{CodeConfigDevUserIDInAzure, 0, "A dev-only setting that lets clients choose their user id is on while running in Azure.", "Remove DEV_ALLOW_CLIENT_USER_ID from the app settings."},
	{CodeConfigIdentity, 0, "The identity settings are inconsistent.", "See the message; the README lists the identity settings."},
	{CodeConfigEndpoints, 0, "The multiple-endpoint settings are inconsistent.", "See the message; the README lists the Azure__SignalR__Endpoints__ settings."},
	{CodeConfigUpstreamUnsigned, 0, "UPSTREAM_ALLOW_UNSIGNED=true accepts unauthenticated upstream calls and is refused in Azure.", "Remove UPSTREAM_ALLOW_UNSIGNED; with Microsoft Entra ID set the upstream's auth to ManagedIdentity and UPSTREAM_TOKEN_ISSUER/UPSTREAM_TOKEN_AUDIENCE."},
	{CodeConfigHostJSON, 0, "host.json is missing or does not describe this custom handler (version 2.0, customHandler.description.defaultExecutablePath, forwarding, routePrefix api).", "Restore host.json from the repository; `handler doctor` names the field at fault."},
	{CodeConfigFunctionJSON, 0, "A function.json does not match the handler: extra bindings (which silently turn forwarding off), a missing http output, or a wrong trigger.", "Keep exactly one httpTrigger and one http output per function; `handler doctor` names the binding at fault."},
	{CodeConfigExecutable, 0, "The executable named in host.json is missing, lacks its run bit, or is built for another OS or CPU.", "Run `make publish` (linux/amd64) before deploying, or `make handler` for `func start`; deploy with `func azure functionapp publish` to keep the run bit."},
}

var byCode = func() map[string]Info {
	m := make(map[string]Info, len(registry))
	for _, i := range registry {
		m[i.Code] = i
	}
	return m
}()

// Lookup returns the registry entry of code.
func Lookup(code string) (Info, bool) {
	i, ok := byCode[code]
	return i, ok
}

// All returns every registered code in registry order.
func All() []Info {
	return append([]Info(nil), registry...)
}

// Status returns the HTTP status of code: the registered status, or 500 for
// codes that are unknown or that never reach a client (configuration).
func Status(code string) int {
	if i, ok := byCode[code]; ok && i.Status != 0 {
		return i.Status
	}
	return http.StatusInternalServerError
}
