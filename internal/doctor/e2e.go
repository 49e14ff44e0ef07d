package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// negotiateURL appends /negotiate to base's path and negotiateVersion=1 to
// its query, as @microsoft/signalr does.
func negotiateURL(base *url.URL) string {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	u.RawPath = ""
	if !strings.Contains(u.RawQuery, "negotiateVersion") {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += "negotiateVersion=1"
	}
	u.Fragment = ""
	return u.String()
}

// clientRequest builds a negotiate POST with the headers of the JS client.
func (r *runner) clientRequest(target, bearer string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(nil))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	req.Header.Set("X-SignalR-User-Agent", "Microsoft SignalR/10.0 (handler-doctor; Go)")
	if r.opts.Origin != "" {
		req.Header.Set("Origin", r.opts.Origin)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req
}

// appErrorBody decodes the handler's {"error":{"code","message","hint"}}.
func appErrorBody(b []byte) (apperr.BodyError, bool) {
	var body struct {
		Error *apperr.BodyError `json:"error"`
	}
	if json.Unmarshal(b, &body) != nil || body.Error == nil || body.Error.Code == "" {
		return apperr.BodyError{}, false
	}
	return *body.Error, true
}

// negotiateBody is the part of a negotiate answer the client reads.
type negotiateBody struct {
	URL                 string            `json:"url"`
	AccessToken         string            `json:"accessToken"`
	Error               json.RawMessage   `json:"error"`
	ConnectionID        string            `json:"connectionId"`
	ConnectionToken     string            `json:"connectionToken"`
	NegotiateVersion    *int              `json:"negotiateVersion"`
	AvailableTransports []json.RawMessage `json:"availableTransports"`
	ProtocolVersion     json.RawMessage   `json:"ProtocolVersion"`
}

// decodeNegotiate decodes a negotiate answer; ok is false when it is not a
// JSON object.
func decodeNegotiate(contentType string, b []byte) (negotiateBody, string) {
	var nb negotiateBody
	mt, _, _ := mime.ParseMediaType(contentType)
	if err := json.Unmarshal(b, &nb); err != nil {
		start := textutil.Clean(string(b), 40)
		if start == "" {
			return nb, fmt.Sprintf("the body is empty (Content-Type %q)", contentType)
		}
		return nb, fmt.Sprintf("the body is not JSON (Content-Type %q, starts with %q): @microsoft/signalr fails to parse it", contentType, start)
	}
	if mt != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nb, fmt.Sprintf("the body is JSON but Content-Type is %q", contentType)
	}
	return nb, ""
}

func (r *runner) routeDiagnosis(base *url.URL) string {
	var why []string
	p := strings.TrimSuffix(base.Path, "/")
	if strings.HasSuffix(strings.ToLower(p), "/negotiate") {
		why = append(why, "--url already ends in /negotiate, and the client appends /negotiate itself (…/negotiate/negotiate): give it the base URL ending in /api")
	} else if r.layout != nil && r.layout.negotiatePath != "" && p+"/negotiate" != r.layout.negotiatePath {
		why = append(why, fmt.Sprintf("the client posts to %s/negotiate but function.json makes the host serve negotiate at %s", p, r.layout.negotiatePath))
	}
	if r.layout != nil && r.layout.routeProblem != "" {
		why = append(why, r.layout.routeProblem)
	}
	if len(why) == 0 {
		return ""
	}
	return ": " + strings.Join(why, "; ")
}

func (r *runner) checkEndToEnd(ctx context.Context) {
	const check = "negotiate"
	if r.opts.URL == "" {
		r.add(finding(check, Skip, "", "no --url given: negotiate was not tried end to end", "Start the handler (func start, or make dev) and pass --url http://localhost:7071/api.", nil))
		return
	}
	base, err := url.Parse(r.opts.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		r.add(finding(check, Fail, apperr.CodeHandlerUnreachable, fmt.Sprintf("--url %q is not an absolute http(s) URL", r.opts.URL), "Pass the base URL ending in /api, e.g. http://localhost:7071/api.", nil))
		return
	}
	target := negotiateURL(base)
	d := map[string]string{"url": target}
	if r.opts.Origin != "" {
		r.checkLivePreflight(ctx, target)
	}
	if r.opts.Token != "" {
		d["authorization"] = "Bearer token from --token/DOCTOR_TOKEN"
	}
	resp, err := r.do(ctx, r.clientRequest(target, r.opts.Token))
	if err != nil {
		_, msg := classifyNetErr(err, r.opts.Timeout)
		r.add(finding(check, Fail, apperr.CodeHandlerUnreachable, "POST "+target+": "+msg, "", d))
		return
	}
	d["status"] = fmt.Sprint(resp.status)
	if ae, ok := appErrorBody(resp.body); ok && resp.status != http.StatusOK {
		msg := fmt.Sprintf("POST %s answered %d %s: %s", target, resp.status, ae.Code, ae.Message)
		if resp.status == http.StatusNotFound {
			msg += r.routeDiagnosis(base)
		}
		fix := ae.Hint
		if resp.status == http.StatusUnauthorized {
			msg += r.unauthorizedNote()
			fix = r.unauthorizedFix(fix)
		}
		r.add(finding(check, Fail, ae.Code, msg, fix, d))
		return
	}
	switch {
	case resp.status == http.StatusUnauthorized:
		r.add(finding(check, Fail, apperr.CodeNegotiateUnauthenticated, fmt.Sprintf("POST %s answered 401%s%s", target, r.unauthorizedNote(), handlerSays(resp)), r.unauthorizedFix(""), d))
		return
	case resp.status == http.StatusNotFound:
		diag := r.routeDiagnosis(base)
		if diag == "" {
			diag = ": the Functions host (or another server) has no function at this path; pass the base URL ending in /api"
		}
		r.add(finding(check, Fail, apperr.CodeRouteNotFound, "POST "+target+" answered 404"+diag, "", d))
		return
	case resp.status != http.StatusOK:
		r.add(finding(check, Fail, apperr.CodeHandlerBadResponse, fmt.Sprintf("POST %s answered %d; @microsoft/signalr needs 200%s", target, resp.status, handlerSays(resp)), "", d))
		return
	}
	nb, bad := decodeNegotiate(resp.header.Get("Content-Type"), resp.body)
	switch {
	case bad != "":
		r.add(finding(check, Fail, apperr.CodeHandlerBadResponse, "POST "+target+" answered 200 but "+bad, "", d))
		return
	case len(nb.Error) > 0 && string(nb.Error) != "null":
		r.add(finding(check, Fail, apperr.CodeHandlerBadResponse, "negotiate answered 200 with an error field, which the client throws: "+textutil.Clean(string(nb.Error), 200), "", d))
		return
	case nb.URL == "" && nb.ConnectionID != "":
		r.add(finding(check, Fail, apperr.CodeHandlerBadResponse, "--url points at a SignalR server (the answer has connectionId), not at the handler's negotiate, which answers {url, accessToken}", "Pass the handler's base URL, e.g. http://localhost:7071/api.", d))
		return
	case nb.URL == "" || nb.AccessToken == "":
		r.add(finding(check, Fail, apperr.CodeHandlerBadResponse, "negotiate answered 200 JSON without url and accessToken (property names are camelCase)", "", d))
		return
	}
	d["returnedUrl"] = nb.URL
	d["tokenLength"] = fmt.Sprint(len(nb.AccessToken))
	svcURL, err := url.Parse(nb.URL)
	if err != nil || (svcURL.Scheme != "http" && svcURL.Scheme != "https") || svcURL.Host == "" {
		r.add(finding(check, Fail, apperr.CodeHandlerBadResponse, fmt.Sprintf("negotiate returned url %q, which is not an absolute http(s) URL", textutil.Clean(nb.URL, 100)), "", d))
		return
	}
	ep := r.endpointFor(nb.URL)
	if problem := r.tokenProblem(nb.AccessToken, svcURL, ep, d); problem != "" {
		r.add(finding(check, Warn, apperr.CodeServiceUnauthorized, "negotiate answered {url, accessToken}, but "+problem, "", d))
	} else {
		r.add(finding(check, Pass, "", fmt.Sprintf("POST %s answered 200 {url, accessToken}: url %s, token of %d characters", target, nb.URL, len(nb.AccessToken)), "", d))
	}
	r.checkServiceNegotiate(ctx, svcURL, nb.AccessToken, ep)
}

// unauthorizedNote says which credentials the refused negotiate carried.
func (r *runner) unauthorizedNote() string {
	if r.opts.Token == "" {
		return " (sent without Authorization: the handler refuses anonymous negotiate)"
	}
	return " (sent with the bearer token of --token/DOCTOR_TOKEN, which the handler refused)"
}

// unauthorizedFix is the fix of a 401 from the handler's negotiate; hint
// is the handler's own, if any.
func (r *runner) unauthorizedFix(hint string) string {
	var fix string
	if r.opts.Token == "" {
		fix = "Pass a token the handler accepts with --token <bearer> (or DOCTOR_TOKEN), as accessTokenFactory supplies it to @microsoft/signalr; or allow anonymous negotiate."
	} else {
		fix = "The token given with --token/DOCTOR_TOKEN was refused: check its issuer, audience and expiry against the handler's identity settings."
	}
	if hint != "" {
		fix = hint + " " + fix
	}
	return fix
}

// endpointFor returns the configured endpoint whose client URLs start with
// u, or nil.
func (r *runner) endpointFor(u string) *endpointConf {
	for i := range r.endpoints {
		if strings.HasPrefix(strings.ToLower(u), strings.ToLower(r.endpoints[i].cs.ClientBase())) {
			return &r.endpoints[i]
		}
	}
	return nil
}

// expectedAudience is the aud the service expects of a client token for
// the client URL u: the URL without port.
func expectedAudience(u *url.URL) string {
	h := u.Hostname()
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	s := u.Scheme + "://" + h + u.EscapedPath()
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return s
}

// tokenProblem inspects the client token without printing it: length, aud
// against the returned url, exp, and the signature when the endpoint's key
// is known. It returns "" when nothing is wrong.
func (r *runner) tokenProblem(token string, svc *url.URL, ep *endpointConf, d map[string]string) string {
	var problems []string
	if len(token) > signalr.MaxTokenLength {
		problems = append(problems, fmt.Sprintf("the token is %d characters, more than the service's %d", len(token), signalr.MaxTokenLength))
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return "the accessToken is not a JWT"
	}
	aud, _ := claims["aud"].(string)
	d["audience"] = aud
	if want := expectedAudience(svc); !strings.EqualFold(aud, want) {
		problems = append(problems, fmt.Sprintf("the token's aud %q is not %q (the returned url without port): the service answers 401", aud, want))
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		left := exp.Sub(r.now())
		d["expiresIn"] = left.Round(time.Second).String()
		if left <= 0 {
			problems = append(problems, "the token has already expired (check the handler's clock and SIGNALR_TOKEN_LIFETIME)")
		}
	} else {
		problems = append(problems, "the token has no exp")
	}
	if ep != nil && ep.cs.AccessKey != "" {
		_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()).Parse(token, func(*jwt.Token) (any, error) {
			return []byte(ep.cs.AccessKey), nil
		})
		if err != nil {
			d["signature"] = "does not verify with " + ep.setting
			problems = append(problems, "its signature does not verify with the AccessKey of "+ep.setting+" here: the running handler uses another key")
		} else {
			d["signature"] = "verifies with " + ep.setting
		}
	}
	return strings.Join(problems, "; ")
}

// checkServiceNegotiate performs the client's second negotiate, against the
// service, when the returned url belongs to a configured endpoint.
func (r *runner) checkServiceNegotiate(ctx context.Context, svc *url.URL, token string, ep *endpointConf) {
	const check = "service negotiate"
	if ep == nil {
		var known []string
		for _, e := range r.endpoints {
			known = append(known, e.cs.ClientBase())
		}
		msg := fmt.Sprintf("the returned url %s is not under a configured endpoint (%s): the doctor sends nothing to hosts it was not given", svc.Redacted(), strings.Join(known, ", "))
		if len(known) == 0 {
			msg = fmt.Sprintf("the returned url %s cannot be checked: no connection string is configured here", svc.Redacted())
		}
		r.add(finding(check, Skip, "", msg, "Run the doctor with the same AzureSignalRConnectionString as the handler.", nil))
		return
	}
	target := negotiateURL(svc)
	d := map[string]string{"url": target}
	resp, err := r.do(ctx, r.clientRequest(target, token))
	if err != nil {
		code, msg := classifyNetErr(err, r.opts.Timeout)
		r.add(finding(check, Fail, code, "POST "+target+": "+msg, "", d))
		return
	}
	d["status"] = fmt.Sprint(resp.status)
	switch {
	case resp.status == http.StatusUnauthorized:
		msg := "the service rejected the client token (401)" + serviceSays(resp)
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err == nil {
			aud, _ := claims["aud"].(string)
			var causes []string
			if want := expectedAudience(svc); !strings.EqualFold(aud, want) {
				causes = append(causes, fmt.Sprintf("audience %q instead of %q", aud, want))
			}
			if exp, err := claims.GetExpirationTime(); err == nil && exp != nil && !exp.After(r.now()) {
				causes = append(causes, "the token expired")
			}
			if ep.skewKnown && math.Abs(ep.skew) > skewFail.Seconds() {
				causes = append(causes, fmt.Sprintf("clock skew of %.0f s", ep.skew))
			}
			if len(causes) == 0 {
				causes = append(causes, "aud and exp look right, so the key: the handler signs with an AccessKey the service does not have (rotated or from another resource)")
			}
			msg += ": " + strings.Join(causes, "; ")
		}
		r.add(finding(check, Fail, apperr.CodeServiceUnauthorized, msg, "", d))
		return
	case resp.status == http.StatusNotFound:
		r.add(finding(check, Fail, apperr.CodeServiceNotFound, "POST "+target+" answered 404: the returned url is not a SignalR client endpoint (ClientEndpoint wrong, or the service is not in Serverless mode)", "", d))
		return
	case resp.status != http.StatusOK:
		code := apperr.CodeServiceError
		switch {
		case resp.status == http.StatusForbidden:
			code = apperr.CodeServiceForbidden
		case resp.status == http.StatusTooManyRequests:
			code = apperr.CodeServiceThrottled
		case resp.status >= 500:
			code = apperr.CodeServiceUnavailable
		}
		r.add(finding(check, Fail, code, fmt.Sprintf("POST %s answered %d%s", target, resp.status, serviceSays(resp)), "", d))
		return
	}
	nb, bad := decodeNegotiate(resp.header.Get("Content-Type"), resp.body)
	switch {
	case bad != "":
		r.add(finding(check, Fail, apperr.CodeServiceError, "the service's negotiate answered 200 but "+bad, "", d))
	case nb.URL != "":
		r.add(finding(check, Fail, apperr.CodeHandlerBadResponse, fmt.Sprintf("the service answered with another redirect (url %s): the url from the handler does not point at Azure SignalR Service", textutil.Clean(nb.URL, 100)), "Check Endpoint/ClientEndpoint in the connection string.", d))
	case nb.ConnectionID == "" && nb.ConnectionToken == "":
		r.add(finding(check, Fail, apperr.CodeServiceError, "the service's negotiate answered 200 without connectionId", "", d))
	case len(nb.AvailableTransports) == 0:
		r.add(finding(check, Fail, apperr.CodeServiceError, "the service offered no transports (availableTransports is empty)", "", d))
	default:
		names := transportNames(nb.AvailableTransports)
		d["transports"] = strings.Join(names, ",")
		r.add(finding(check, Pass, "", fmt.Sprintf("the service accepted the client token: connection id issued, transports %s", strings.Join(names, ", ")), "", d))
		r.checkServiceHandshake(ctx, svc, token, nb)
	}
}

// checkLivePreflight sends the browser's CORS preflight for negotiate to
// the running handler and checks the answer a credentialed request needs.
func (r *runner) checkLivePreflight(ctx context.Context, target string) {
	const check = "cors preflight"
	origin := r.opts.Origin
	req, _ := http.NewRequest(http.MethodOptions, target, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	reqHeaders := "x-requested-with,x-signalr-user-agent"
	if r.opts.Token != "" {
		reqHeaders = "authorization," + reqHeaders
	}
	req.Header.Set("Access-Control-Request-Headers", reqHeaders)
	d := map[string]string{"url": target, "origin": origin}
	resp, err := r.do(ctx, req)
	if err != nil {
		_, msg := classifyNetErr(err, r.opts.Timeout)
		r.add(finding(check, Fail, apperr.CodeHandlerUnreachable, "OPTIONS "+target+": "+msg, "", d))
		return
	}
	acao := resp.header.Get("Access-Control-Allow-Origin")
	acac := resp.header.Get("Access-Control-Allow-Credentials")
	d["status"] = fmt.Sprint(resp.status)
	d["allowOrigin"], d["allowCredentials"] = acao, acac
	d["allowMethods"], d["allowHeaders"] = resp.header.Get("Access-Control-Allow-Methods"), resp.header.Get("Access-Control-Allow-Headers")
	var problems []string
	switch {
	case resp.status < 200 || resp.status >= 300:
		problems = append(problems, fmt.Sprintf("the preflight answered %d, not 2xx%s", resp.status, handlerSays(resp)))
	case acao == "":
		problems = append(problems, "the preflight has no Access-Control-Allow-Origin")
	case acao == "*":
		problems = append(problems, "Access-Control-Allow-Origin is *, which browsers refuse on credentialed requests (@microsoft/signalr sends credentials)")
	case acao != origin:
		problems = append(problems, fmt.Sprintf("Access-Control-Allow-Origin is %q, not %q", acao, origin))
	}
	if len(problems) == 0 && acac != "true" {
		problems = append(problems, "Access-Control-Allow-Credentials is not true, so the browser rejects the credentialed negotiate")
	}
	if len(problems) == 0 {
		if m := resp.header.Get("Access-Control-Allow-Methods"); m != "" && !strings.Contains(strings.ToUpper(m), "POST") {
			problems = append(problems, "Access-Control-Allow-Methods "+m+" lacks POST")
		}
	}
	if len(problems) == 0 && r.opts.Token != "" {
		switch ah := strings.ToLower(resp.header.Get("Access-Control-Allow-Headers")); {
		case ah == "":
		case strings.TrimSpace(ah) == "*":
			problems = append(problems, "Access-Control-Allow-Headers * does not cover Authorization (browsers never apply the wildcard to it, nor to credentialed requests)")
		case !headerListed(ah, "authorization"):
			problems = append(problems, "Access-Control-Allow-Headers "+textutil.Clean(ah, 100)+" lacks Authorization, which the client sends with accessTokenFactory")
		}
	}
	if len(problems) > 0 {
		r.add(finding(check, Fail, apperr.CodeCORSOriginDenied, "a browser on "+origin+" cannot negotiate: "+strings.Join(problems, "; "), "Add the origin to CORS_ALLOWED_ORIGINS with CORS_ALLOW_CREDENTIALS=true (or, when the platform answers CORS, `az functionapp cors add` and `az functionapp cors credentials --enable true`); function.json methods must include options.", d))
		return
	}
	r.add(finding(check, Pass, "", fmt.Sprintf("OPTIONS %s from %s answered %d with the origin echoed and credentials allowed", target, origin, resp.status), "", d))
}

// headerListed reports whether the comma-separated list has name.
func headerListed(list, name string) bool {
	for h := range strings.SplitSeq(list, ",") {
		if strings.EqualFold(strings.TrimSpace(h), name) {
			return true
		}
	}
	return false
}
