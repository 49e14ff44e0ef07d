package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/netutil"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// entraRoles is the role advice of 403 answers to Microsoft Entra ID calls.
const entraRoles = "the identity lacks the SignalR Service Owner role (SignalR REST API Owner cannot negotiate; role assignments take up to 30 minutes to apply) or a network rule (private endpoint, network ACL) blocks this network"

// entraRoleFix is the fix of a 403 on an Entra ID endpoint.
const entraRoleFix = "Assign the SignalR Service Owner role to the identity on the SignalR resource (az role assignment create --role \"SignalR Service Owner\" --assignee <principal id> --scope <resource id>), wait up to 30 minutes, and check the resource's network access (Networking: public access, private endpoints, ACL)."

// boundedCredential returns when ctx ends even if the credential it wraps
// does not (a managed-identity endpoint that never answers), and records
// what happened for the diagnosis.
type boundedCredential struct {
	cred azcore.TokenCredential

	mu       sync.Mutex
	got      bool  // a token was obtained
	err      error // the credential's last error
	timedOut bool  // ctx ended before the credential answered
}

// GetToken implements azcore.TokenCredential.
func (b *boundedCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	type result struct {
		tok azcore.AccessToken
		err error
	}
	ch := make(chan result, 1)
	go func() {
		tok, err := b.cred.GetToken(ctx, o)
		ch <- result{tok, err}
	}()
	select {
	case r := <-ch:
		b.mu.Lock()
		defer b.mu.Unlock()
		if r.err != nil {
			b.err = r.err
			b.timedOut = b.timedOut || (ctx.Err() != nil && netutil.IsTimeout(ctx.Err()))
		} else {
			b.got = true
		}
		return r.tok, r.err
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		b.timedOut = true
		b.err = ctx.Err()
		return azcore.AccessToken{}, fmt.Errorf("getting a Microsoft Entra ID token: %w", ctx.Err())
	}
}

// state returns what the credential did so far.
func (b *boundedCredential) state() (got bool, err error, timedOut bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got, b.err, b.timedOut
}

// credentialKind names the credential a connection string asks for, as
// signalr.NewCredential maps it, without secrets.
func credentialKind(cs *signalr.ConnectionString) string {
	switch cs.AuthType {
	case signalr.AuthTypeAzure:
		return "DefaultAzureCredential (AuthType=azure)"
	case signalr.AuthTypeAzureMSI:
		if cs.ClientID != "" {
			return "user-assigned managed identity " + cs.ClientID + " (AuthType=azure.msi)"
		}
		return "system-assigned managed identity (AuthType=azure.msi)"
	case signalr.AuthTypeAzureApp, signalr.AuthTypeAAD:
		at := "AuthType=" + string(cs.AuthType)
		switch {
		case cs.ClientID != "" && cs.TenantID != "" && cs.ClientSecret != "":
			return "client secret of application " + cs.ClientID + " in tenant " + cs.TenantID + " (" + at + ")"
		case cs.ClientID != "" && cs.TenantID != "" && cs.ClientCert != "":
			return "client certificate of application " + cs.ClientID + " in tenant " + cs.TenantID + " (" + at + ")"
		case cs.ClientID != "":
			return "user-assigned managed identity " + cs.ClientID + " (" + at + ")"
		default:
			return "system-assigned managed identity (" + at + ")"
		}
	}
	return "Microsoft Entra ID credential"
}

// isManagedIdentity reports whether cs asks for a managed identity.
func isManagedIdentity(cs *signalr.ConnectionString) bool {
	switch cs.AuthType {
	case signalr.AuthTypeAzureMSI:
		return true
	case signalr.AuthTypeAAD:
		return cs.TenantID == "" || (cs.ClientSecret == "" && cs.ClientCert == "")
	}
	return false
}

// credentialFix says how to repair the credential of cs; cause is the
// summarised credential error ("" when unknown).
func credentialFix(cs *signalr.ConnectionString, cause string) string {
	l := strings.ToLower(cause)
	switch {
	case strings.Contains(l, "aadsts7000215") || strings.Contains(l, "aadsts7000222"):
		return "The client secret is wrong or expired: create a new one (az ad app credential reset --id <ClientId>) and put its value (not its id) into ClientSecret."
	case strings.Contains(l, "aadsts90002") || strings.Contains(l, "aadsts900023") || strings.Contains(l, "aadsts700016") || strings.Contains(l, "aadsts50020"):
		return "Wrong tenant: TenantId (or az login --tenant <tenant>) must be the directory that holds both the application and the SignalR resource; check ClientId too."
	}
	switch {
	case isManagedIdentity(cs):
		return "A managed identity exists only where Azure provides one (the Function App with Identity enabled, a VM): enable the system-assigned identity or give the user-assigned identity's ClientId. On a development machine use AuthType=azure after az login, or an AccessKey connection string."
	case cs.AuthType == signalr.AuthTypeAzure:
		return "DefaultAzureCredential found no usable credential: run az login (az login --tenant <tenant> when the SignalR resource is in another tenant), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; in Azure, enable the Function App's managed identity."
	default:
		return "Check ClientId, TenantId (the directory of the SignalR resource) and ClientSecret (the secret's value, not its id) or ClientCert (a readable PEM/PKCS#12 file with the private key); secrets expire."
	}
}

var (
	aadstsRe = regexp.MustCompile(`AADSTS[0-9]+:[^.\r\n"]*`)
	// jwtRe matches anything shaped like a JWT, which is never printed.
	jwtRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
)

// summarizeCredentialError shortens an azidentity error to its credential
// lines and AADSTS codes, without response bodies, tokens or secrets.
func summarizeCredentialError(err error, secrets ...string) string {
	if err == nil {
		return ""
	}
	text := err.Error()
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
	}
	text = jwtRe.ReplaceAllString(text, "[token]")
	var parts []string
	seen := map[string]bool{}
	addPart := func(p string) {
		p = textutil.Clean(p, 160)
		if p != "" && !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "-"), strings.HasPrefix(line, "{"), strings.HasPrefix(line, "POST "), strings.HasPrefix(line, "GET "),
			strings.HasPrefix(line, "RESPONSE"), strings.HasPrefix(line, "To troubleshoot"), strings.HasPrefix(line, "Attempted credentials"):
			continue
		}
		if m := aadstsRe.FindString(line); m != "" && !strings.HasPrefix(line, "AADSTS") {
			// A JSON or prose line around the code: keep the code only.
			continue
		}
		addPart(line)
		if len(parts) >= 6 {
			break
		}
	}
	for _, m := range aadstsRe.FindAllString(text, 2) {
		addPart(m)
	}
	// Joining can put a secret back together across two parts: redact the
	// joined text, then bound it (cutting only removes text, so no secret
	// reappears).
	out := strings.Join(parts, "; ")
	for _, s := range secrets {
		if s != "" {
			out = strings.ReplaceAll(out, s, "[redacted]")
		}
	}
	return textutil.Truncate(out, 600)
}

// checkEntraAuth replaces the AccessKey REST check for a Microsoft Entra ID
// endpoint: it gets a token from the credential, fetches the signing key
// negotiate needs (GET /api/v1/auth/accessKey) and makes the harmless
// REST existence check, each bounded by the step timeout.
func (r *runner) checkEntraAuth(ctx context.Context, ep *endpointConf) {
	label := ep.name
	cs := ep.cs
	kind := credentialKind(cs)
	keyCheck := "signing key " + label
	authCheck := "auth " + label
	d := map[string]string{"credential": kind, "scope": signalr.EntraScope}

	cred := r.opts.Credential
	if cred == nil {
		var err error
		if cred, err = signalr.NewCredential(cs); err != nil {
			msg := "the " + kind + " could not be created: " + summarizeCredentialError(err, cs.ClientSecret)
			r.add(finding(keyCheck, Fail, apperr.CodeServiceUnauthorized, msg, credentialFix(cs, msg), d))
			r.add(finding(authCheck, Skip, "", "skipped: no Microsoft Entra ID credential", "", nil))
			return
		}
	}
	bc := &boundedCredential{cred: cred}
	rec := &restRecorder{}
	client, err := ep.ec.NewClient(r.clientOptions(rec), bc)
	if err != nil {
		r.add(finding(keyCheck, Fail, apperr.CodeInternal, "the REST client could not be built: "+textutil.Clean(err.Error(), 200), "", d))
		r.add(finding(authCheck, Skip, "", "skipped: no REST client", "", nil))
		return
	}

	// (a) The signing key of client tokens: what negotiate needs.
	kctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	key, kerr := client.GetAccessKey(kctx, nil)
	kTimedOut := kctx.Err() != nil
	cancel()
	kd := maps.Clone(d)
	kd["url"] = client.Endpoint() + "api/v1/auth/accessKey"
	if f, ok := r.credentialFailure(keyCheck, cs, kind, bc, kerr, kTimedOut, kd); ok {
		r.add(f)
		r.add(finding(authCheck, Skip, "", "skipped: no Microsoft Entra ID token (see "+keyCheck+")", "", nil))
		return
	}

	// (b) REST permission: HEAD of a connection that does not exist.
	hub := strings.ToLower(r.cfg.HubName)
	rctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	_, rerr := client.ConnectionExists(rctx, hub, probeConnection, nil)
	rTimedOut := rctx.Err() != nil
	cancel()
	ad := maps.Clone(d)
	ad["url"], _ = rec.last()
	restFinding, restOK := r.entraRESTFinding(authCheck, cs, kind, bc, rerr, rTimedOut, ad)

	var re *signalr.ResponseError
	switch {
	case kerr == nil:
		kd["keyId"] = key.Key.ID
		r.add(finding(keyCheck, Pass, "", fmt.Sprintf("the %s got a token and GET /api/v1/auth/accessKey answered 200: negotiate can sign client tokens", kind), "", kd))
	case errors.As(kerr, &re) && re.StatusCode == http.StatusForbidden:
		kd["status"] = "403"
		addErrorCode(kd, re)
		if restOK {
			r.add(finding(keyCheck, Fail, apperr.CodeServiceForbidden,
				"GET /api/v1/auth/accessKey answered 403 while the REST call passed: the identity may call the REST API (SignalR REST API Owner?) but may not fetch the key that signs client tokens, so negotiate fails; negotiate needs the SignalR App Server or SignalR Service Owner role (role assignments take up to 30 minutes to apply)"+responseSays(re),
				"Assign the SignalR Service Owner role (or SignalR App Server plus REST API Owner) to the identity on the SignalR resource and wait up to 30 minutes.", kd))
		} else {
			r.add(finding(keyCheck, Fail, apperr.CodeServiceForbidden, "GET /api/v1/auth/accessKey answered 403: "+entraRoles+responseSays(re), entraRoleFix, kd))
		}
	default:
		r.add(r.entraResponseFinding(keyCheck, "GET /api/v1/auth/accessKey", kerr, kTimedOut, kd))
	}
	r.add(restFinding)
}

// credentialFailure reports the failure of the credential itself (no token,
// or no token within the timeout); ok is false when the credential
// answered.
func (r *runner) credentialFailure(check string, cs *signalr.ConnectionString, kind string, bc *boundedCredential, err error, timedOut bool, d map[string]string) (Finding, bool) {
	got, cerr, credTimedOut := bc.state()
	if err == nil || got {
		return Finding{}, false
	}
	var ce *signalr.ConnectionError
	if !errors.As(err, &ce) || (ce.Kind != signalr.ConnectionCredential && cerr == nil) {
		return Finding{}, false
	}
	if credTimedOut || (timedOut && cerr != nil && netutil.IsTimeout(cerr)) {
		d["timeout"] = r.opts.Timeout.String()
		msg := fmt.Sprintf("the %s gave no Microsoft Entra ID token within %s (the timeout of each step; --timeout changes it)", kind, r.opts.Timeout)
		if isManagedIdentity(cs) {
			msg += ": the managed identity endpoint does not answer, as on a machine outside Azure"
		}
		return finding(check, Fail, apperr.CodeServiceTimeout, msg, credentialFix(cs, ""), d), true
	}
	if cerr == nil {
		cerr = err
	}
	summary := summarizeCredentialError(cerr, cs.ClientSecret, r.opts.Token)
	msg := "the " + kind + " could not get a Microsoft Entra ID token for " + signalr.EntraScope + ": " + summary
	return finding(check, Fail, apperr.CodeServiceUnauthorized, msg, credentialFix(cs, summary), d), true
}

// entraRESTFinding is the finding of the REST existence check; ok reports
// whether the service accepted the call (200 or 404).
func (r *runner) entraRESTFinding(check string, cs *signalr.ConnectionString, kind string, bc *boundedCredential, err error, timedOut bool, d map[string]string) (Finding, bool) {
	if err == nil {
		return finding(check, Pass, "", "the service accepted the Microsoft Entra ID token of the "+kind+" for REST calls (HEAD connection existence check)", "", d), true
	}
	if f, ok := r.credentialFailure(check, cs, kind, bc, err, timedOut, d); ok {
		return f, false
	}
	var re *signalr.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
		d["status"] = "403"
		addErrorCode(d, re)
		return finding(check, Fail, apperr.CodeServiceForbidden, "HEAD connection existence check answered 403: the identity may not call the REST API (broadcast fails): "+entraRoles+responseSays(re), entraRoleFix, d), false
	}
	return r.entraResponseFinding(check, "HEAD connection existence check", err, timedOut, d), false
}

// entraResponseFinding explains an error of a call made with an Entra ID
// token other than a credential failure or a 403.
func (r *runner) entraResponseFinding(check, what string, err error, timedOut bool, d map[string]string) Finding {
	var re *signalr.ResponseError
	var ce *signalr.ConnectionError
	switch {
	case errors.As(err, &re):
		d["status"] = fmt.Sprint(re.StatusCode)
		addErrorCode(d, re)
		says := responseSays(re)
		switch {
		case re.StatusCode == http.StatusUnauthorized:
			return finding(check, Fail, apperr.CodeServiceUnauthorized, what+" answered 401: the service refused the Microsoft Entra ID token: the token is for another resource or tenant (the scope must be "+signalr.EntraScope+" and the identity must belong to the tenant of the SignalR resource)"+says,
				"Use an identity of the SignalR resource's tenant (TenantId=…, az login --tenant <tenant>); if AZURE_* environment variables are set, DefaultAzureCredential uses them first.", d)
		case re.StatusCode == http.StatusOK:
			return finding(check, Fail, apperr.CodeServiceError, what+" answered 200 without KeyId and AccessKey: this is not Azure SignalR Service", "Check Endpoint/ServerEndpoint in the connection string.", d)
		case re.StatusCode == http.StatusNotFound:
			return finding(check, Fail, apperr.CodeServiceNotFound, what+" answered 404: not an Azure SignalR Service endpoint (wrong Endpoint or ServerEndpoint)"+says, "", d)
		case re.StatusCode == http.StatusTooManyRequests:
			return finding(check, Warn, apperr.CodeServiceThrottled, what+" was throttled (429)"+says, "", d)
		}
		return finding(check, Fail, apperr.FromSignalR(err).Code, fmt.Sprintf("%s answered %d%s", what, re.StatusCode, says), "", d)
	case errors.As(err, &ce) && (ce.Kind == signalr.ConnectionTimeout || timedOut):
		return finding(check, Fail, apperr.CodeServiceTimeout, fmt.Sprintf("%s: no answer within %s (the timeout of each step; --timeout changes it)", what, r.opts.Timeout), "", d)
	case errors.As(err, &ce):
		_, msg := classifyNetErr(ce.Err, r.opts.Timeout)
		return finding(check, Fail, apperr.FromSignalR(err).Code, what+": "+textutil.Clean(msg, 300), "", d)
	case timedOut || netutil.IsTimeout(err):
		return finding(check, Fail, apperr.CodeServiceTimeout, fmt.Sprintf("%s: no answer within %s", what, r.opts.Timeout), "", d)
	}
	return finding(check, Fail, apperr.FromSignalR(err).Code, what+": "+textutil.Clean(err.Error(), 300), "", d)
}

// responseSays returns "; the service says: …" from a REST error, or "".
func responseSays(re *signalr.ResponseError) string {
	var parts []string
	if re.ErrorCode != "" {
		parts = append(parts, textutil.Clean(re.ErrorCode, 100))
	}
	if re.RawResponse != nil {
		if wa := re.RawResponse.Header.Get("WWW-Authenticate"); wa != "" {
			parts = append(parts, textutil.Clean(wa, 200))
		}
	}
	if re.Message != "" {
		parts = append(parts, textutil.Clean(re.Message, 200))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; the service says: " + strings.Join(parts, " — ")
}

func addErrorCode(d map[string]string, re *signalr.ResponseError) {
	if re.ErrorCode != "" {
		d["errorCode"] = textutil.Clean(re.ErrorCode, 100)
	}
}

// redactFindings replaces every occurrence of the secrets in the findings'
// text with "[redacted]"; the doctor never prints a token or a key, even
// when a server echoes one.
func redactFindings(fs []Finding, secrets ...string) {
	var live []string
	for _, s := range secrets {
		if len(s) >= 6 {
			live = append(live, s)
		}
	}
	if len(live) == 0 {
		return
	}
	scrub := func(s string) string {
		for _, x := range live {
			s = strings.ReplaceAll(s, x, "[redacted]")
		}
		return s
	}
	for i := range fs {
		fs[i].Message = scrub(fs[i].Message)
		fs[i].Fix = scrub(fs[i].Fix)
		for k, v := range fs[i].Details {
			fs[i].Details[k] = scrub(v)
		}
	}
}

var _ azcore.TokenCredential = (*boundedCredential)(nil)
