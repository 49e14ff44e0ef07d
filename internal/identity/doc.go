// Package identity decides who the caller of negotiate or broadcast is.
//
// A [Resolver] looks at one HTTP request and returns a [Principal], or an
// *apperr.Error with a 401-class code when a presented credential is bad.
// Sources, in order of precedence:
//
//  1. App Service Authentication (EasyAuth): the X-MS-CLIENT-PRINCIPAL*
//     headers, trusted only when [Config.TrustEasyAuth] is set (the platform
//     strips these headers from external requests only when EasyAuth is on;
//     otherwise they are forged and ignored with a warning).
//  2. A bearer JWT from `Authorization: Bearer <t>` or the access_token query
//     parameter (browsers' WebSocket and SSE transports put it there),
//     verified with a JWKS ([Config.JWKSURL]) or a shared HS256 secret
//     ([Config.HS256Secret]). A presented but invalid token is an error,
//     never a silent downgrade to anonymous. When neither verifier is
//     configured a presented token cannot be trusted: it is ignored (logged
//     at Debug) and the request continues as if it carried none.
//  3. The dev-only x-ms-signalr-userid header, when
//     [Config.DevAllowClientUserID] is set.
//  4. Anonymous, when [Config.AllowAnonymous] is set; otherwise
//     negotiate.unauthenticated.
//
// A client can never choose its own user id except through the dev header.
package identity
