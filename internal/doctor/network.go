package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/netutil"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// probeConnection is the connection id of the authenticated existence
// check: HEAD of a connection that does not exist changes nothing.
const probeConnection = "doctor-probe"

// Clock-skew thresholds: tokens carry nbf and exp; the service tolerates a
// few minutes at most.
const (
	skewWarn = 30 * time.Second
	skewFail = 5 * time.Minute
)

// certExpiryWarn warns about certificates that expire soon.
const certExpiryWarn = 14 * 24 * time.Hour

// checkEndpoint runs the network checks of one endpoint in order; a step
// that fails skips the steps that need it.
func (r *runner) checkEndpoint(ctx context.Context, ep *endpointConf) {
	server, err := url.Parse(ep.cs.ServerBase())
	if err != nil {
		r.add(finding("endpoint "+ep.name, Fail, apperr.CodeConfigConnStrInvalidEndpoint, "the REST base URL does not parse", "", nil))
		return
	}
	if !r.probeHost(ctx, ep.name, server) {
		return
	}
	if client, err := url.Parse(ep.cs.ClientBase()); err == nil && netutil.HostPort(client) != netutil.HostPort(server) {
		r.probeHost(ctx, ep.name+" (client)", client)
	}
	r.checkREST(ctx, ep)
}

// probeHost checks the scheme, DNS, TCP and TLS of u's host and reports
// whether HTTP calls to it can be tried.
func (r *runner) probeHost(ctx context.Context, label string, u *url.URL) bool {
	host := u.Hostname()
	addr := netutil.HostPort(u)
	d := map[string]string{"url": u.Redacted()}
	if u.Scheme == "http" {
		if netutil.IsLoopback(host) {
			r.add(finding("scheme "+label, Pass, "", "http on loopback ("+addr+"): the local emulator; no TLS needed", "", d))
		} else {
			r.add(finding("scheme "+label, Warn, apperr.CodeServiceTLS, "the endpoint uses http on "+host+", which is not loopback: access tokens travel in clear text", "Use https:// in Endpoint (Azure SignalR Service always offers it).", d))
		}
	}

	// DNS.
	if ip := net.ParseIP(host); ip != nil {
		r.add(finding("dns "+label, Pass, "", host+" is an IP address: no DNS lookup", "", d))
	} else {
		dctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		addrs, err := net.DefaultResolver.LookupHost(dctx, host)
		cancel()
		if err != nil {
			var de *net.DNSError
			switch {
			case netutil.IsTimeout(err):
				r.add(finding("dns "+label, Fail, apperr.CodeServiceTimeout, fmt.Sprintf("resolving %s did not finish within %s", host, r.opts.Timeout), "Check the DNS servers of this machine (and, in Azure, the VNet's DNS for private endpoints).", d))
			case errors.As(err, &de) && de.IsNotFound:
				r.add(finding("dns "+label, Fail, apperr.CodeServiceUnreachable, fmt.Sprintf("host %s does not exist (NXDOMAIN): a typo in Endpoint, or the SignalR resource was deleted", host), "Copy the connection string again: az signalr key list -n NAME -g GROUP --query primaryConnectionString -o tsv.", d))
			default:
				r.add(finding("dns "+label, Fail, apperr.CodeServiceUnreachable, fmt.Sprintf("resolving %s failed: %v", host, err), "", d))
			}
			r.add(finding("endpoint "+label, Skip, "", "TCP, TLS and HTTP checks skipped: the host does not resolve", "", nil))
			return false
		}
		d2 := maps.Clone(d)
		d2["addresses"] = strings.Join(addrs, ",")
		r.add(finding("dns "+label, Pass, "", fmt.Sprintf("%s resolves to %s", host, strings.Join(addrs, ", ")), "", d2))
	}

	// TCP.
	tctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	start := time.Now()
	conn, err := (&net.Dialer{}).DialContext(tctx, "tcp", addr)
	cancel()
	if err != nil {
		code, msg := classifyNetErr(err, r.opts.Timeout)
		fix := "Check that the service (or the emulator) runs and that outbound traffic to " + addr + " is allowed."
		if r.getenv("HTTPS_PROXY") != "" || r.getenv("https_proxy") != "" {
			msg += " (HTTPS_PROXY is set: this check connects directly)"
		}
		r.add(finding("tcp "+label, Fail, code, "connecting to "+addr+": "+msg, fix, d))
		r.add(finding("endpoint "+label, Skip, "", "TLS and HTTP checks skipped: no TCP connection", "", nil))
		return false
	}
	conn.Close()
	r.add(finding("tcp "+label, Pass, "", fmt.Sprintf("connected to %s in %s", addr, time.Since(start).Round(time.Millisecond)), "", d))

	if u.Scheme != "https" {
		return true
	}
	return r.checkTLS(ctx, label, host, addr, d)
}

// handshake dials addr and completes a TLS handshake accepting versions
// from minVersion; certificates are verified separately.
func (r *runner) handshake(ctx context.Context, addr, serverName string, minVersion uint16) (tls.ConnectionState, error) {
	hctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	dialer := &tls.Dialer{Config: &tls.Config{
		ServerName:         serverName,
		MinVersion:         minVersion,
		InsecureSkipVerify: true, // verified below with x509, to tell the causes apart
	}}
	c, err := dialer.DialContext(hctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

func (r *runner) checkTLS(ctx context.Context, label, host, addr string, d map[string]string) bool {
	// Observe what the server offers, down to TLS 1.0.
	st, err := r.handshake(ctx, addr, host, tls.VersionTLS10)
	if err != nil {
		code, msg := classifyNetErr(err, r.opts.Timeout)
		if code == apperr.CodeServiceUnreachable {
			code = apperr.CodeServiceTLS
		}
		r.add(finding("tls "+label, Fail, code, "the TLS handshake with "+addr+" failed: "+msg, "", d))
		r.add(finding("endpoint "+label, Skip, "", "HTTP checks skipped: no TLS session", "", nil))
		return false
	}
	d = maps.Clone(d)
	d["version"] = tls.VersionName(st.Version)
	d["cipherSuite"] = tls.CipherSuiteName(st.CipherSuite)
	ok := true
	if st.Version < tls.VersionTLS12 {
		ok = false
		// Confirm that a client requiring TLS 1.2, as the handler does, fails.
		_, err12 := r.handshake(ctx, addr, host, tls.VersionTLS12)
		confirm := "a TLS 1.2 client (like the handler) is refused"
		if err12 != nil {
			d["tls12Client"] = "refused: " + err12.Error()
			confirm += ": " + err12.Error()
		} else {
			d["tls12Client"] = "accepted"
			confirm = "yet a TLS 1.2 client was accepted, so the server's version choice is unstable"
		}
		r.add(finding("tls "+label, Fail, apperr.CodeServiceTLS, fmt.Sprintf("%s negotiated %s, below the TLS 1.2 minimum; %s", addr, tls.VersionName(st.Version), confirm), "Point Endpoint at a server that supports TLS 1.2 or 1.3 (Azure SignalR Service does; a proxy or old emulator in between may not).", d))
	} else {
		r.add(finding("tls "+label, Pass, "", fmt.Sprintf("%s negotiated %s (%s)", addr, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)), "", d))
	}

	// Certificate.
	if len(st.PeerCertificates) == 0 {
		r.add(finding("certificate "+label, Fail, apperr.CodeServiceTLS, addr+" sent no certificate", "", d))
		return false
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	now := r.now()
	cd := maps.Clone(d)
	cd["subject"] = leaf.Subject.String()
	cd["issuer"] = leaf.Issuer.String()
	cd["notAfter"] = leaf.NotAfter.UTC().Format(time.RFC3339)
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	cd["names"] = strings.Join(names, ",")
	_, verr := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: r.opts.RootCAs, Intermediates: inter, CurrentTime: now})
	var he x509.HostnameError
	var ie x509.CertificateInvalidError
	var ue x509.UnknownAuthorityError
	switch {
	case verr == nil && leaf.NotAfter.Sub(now) < certExpiryWarn:
		r.add(finding("certificate "+label, Warn, apperr.CodeServiceTLS, fmt.Sprintf("the certificate of %s expires on %s", host, leaf.NotAfter.UTC().Format(time.DateOnly)), "Renew the certificate (Azure renews its own; check any proxy or custom domain in between).", cd))
	case verr == nil:
		r.add(finding("certificate "+label, Pass, "", fmt.Sprintf("valid for %s until %s, issued by %s", host, leaf.NotAfter.UTC().Format(time.DateOnly), leaf.Issuer.CommonName), "", cd))
	case errors.As(verr, &he):
		ok = false
		r.add(finding("certificate "+label, Fail, apperr.CodeServiceTLS, fmt.Sprintf("hostname mismatch: the certificate is for %s, not %s", strings.Join(names, ", "), host), "Use the host name the certificate names in Endpoint (NAME.service.signalr.net, or your custom domain).", cd))
	case errors.As(verr, &ie) && ie.Reason == x509.Expired:
		ok = false
		msg := fmt.Sprintf("the certificate of %s expired on %s", host, leaf.NotAfter.UTC().Format(time.DateOnly))
		if now.Before(leaf.NotBefore) {
			msg = fmt.Sprintf("the certificate of %s is valid only from %s (check this machine's clock)", host, leaf.NotBefore.UTC().Format(time.DateOnly))
		}
		r.add(finding("certificate "+label, Fail, apperr.CodeServiceTLS, msg, "Renew the certificate, or fix this machine's clock.", cd))
	case errors.As(verr, &ue):
		ok = false
		r.add(finding("certificate "+label, Fail, apperr.CodeServiceTLS, fmt.Sprintf("the certificate of %s is signed by an unknown authority (%s): self-signed, or a TLS-inspecting proxy", host, leaf.Issuer.String()), "Install the issuing CA in the system trust store, or connect without the intercepting proxy.", cd))
	default:
		ok = false
		r.add(finding("certificate "+label, Fail, apperr.CodeServiceTLS, fmt.Sprintf("the certificate of %s does not verify: %v", host, verr), "", cd))
	}
	if !ok {
		r.add(finding("endpoint "+label, Skip, "", "HTTP checks skipped: the handler's TLS client would refuse this server", "", nil))
	}
	return ok
}

// response is one bounded HTTP exchange.
type response struct {
	status   int
	header   http.Header
	body     []byte
	received time.Time
}

func (r *runner) httpClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: r.opts.RootCAs, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends req bounded by the step timeout, reading at most 64 KiB of body.
func (r *runner) do(ctx context.Context, req *http.Request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	resp, err := r.httpClient().Do(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body, received: r.now()}, nil
}

func (r *runner) checkREST(ctx context.Context, ep *endpointConf) {
	label := ep.name
	cs := ep.cs
	base := cs.ServerBase()

	// Health, anonymous.
	healthURL := base + "api/health"
	hd := map[string]string{"url": healthURL}
	req, _ := http.NewRequest(http.MethodHead, healthURL, nil)
	sent := r.now()
	resp, err := r.do(ctx, req)
	reachable := true
	var dated *response
	switch {
	case err != nil:
		code, msg := classifyNetErr(err, r.opts.Timeout)
		r.add(finding("health "+label, Fail, code, "HEAD "+healthURL+": "+msg, "", hd))
		reachable = false
	case resp.status >= 200 && resp.status < 300:
		dated = resp
		r.add(finding("health "+label, Pass, "", fmt.Sprintf("HEAD /api/health answered %d", resp.status), "", hd))
	case resp.status == http.StatusNotFound:
		dated = resp
		r.add(finding("health "+label, Fail, apperr.CodeServiceNotFound, "HEAD "+healthURL+" answered 404: this is not an Azure SignalR Service endpoint (wrong Endpoint or ServerEndpoint)", "", hd))
	case resp.status >= 500:
		dated = resp
		r.add(finding("health "+label, Fail, apperr.CodeServiceUnavailable, fmt.Sprintf("HEAD /api/health answered %d: the service is unhealthy", resp.status), "", hd))
	default:
		dated = resp
		r.add(finding("health "+label, Fail, apperr.CodeServiceError, fmt.Sprintf("HEAD /api/health answered %d, not 2xx", resp.status), "", hd))
	}
	if !reachable {
		r.add(finding("auth "+label, Skip, "", "skipped: the service did not answer the health probe", "", nil))
		r.add(finding("clock "+label, Skip, "", "skipped: the service did not answer", "", nil))
		return
	}
	r.checkClock(ep, dated, sent)

	if cs.UsesEntraID() {
		r.checkEntraAuth(ctx, ep)
		return
	}
	// Authenticated existence check of a connection that does not exist,
	// made by the SDK client the handler uses (one try, no breaker).
	rec := &restRecorder{}
	client, err := ep.ec.NewClient(r.clientOptions(rec), nil)
	if err != nil {
		r.add(finding("auth "+label, Fail, apperr.CodeInternal, "the REST client could not be built: "+textutil.Clean(err.Error(), 200), "", nil))
		return
	}
	cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	_, err = client.ConnectionExists(cctx, strings.ToLower(r.cfg.HubName), probeConnection, nil)
	cancel()
	target, status := rec.last()
	ad := map[string]string{"url": target, "audience": cs.AudienceBase() + strings.TrimPrefix(target, base)}
	var re *signalr.ResponseError
	var ce *signalr.ConnectionError
	switch {
	case err == nil:
		r.add(finding("auth "+label, Pass, "", fmt.Sprintf("the service accepted the handler's token (HEAD connection existence check answered %d)", status), "", ad))
		r.checkAPIVersions(ctx, label, client, rec) // apiversions.go
		return
	case errors.As(err, &ce):
		code, msg := classifyNetErr(ce.Err, r.opts.Timeout)
		r.add(finding("auth "+label, Fail, code, "HEAD "+target+": "+msg, "", ad))
		return
	case !errors.As(err, &re):
		r.add(finding("auth "+label, Fail, apperr.FromSignalR(err).Code, "HEAD "+target+": "+textutil.Clean(err.Error(), 300), "", ad))
		return
	}
	resp = responseOf(re)
	if ec := resp.header.Get("x-ms-error-code"); ec != "" {
		ad["errorCode"] = textutil.Clean(ec, 100)
	}
	svc := serviceSays(resp)
	switch resp.status {
	case http.StatusUnauthorized:
		msg := "the service rejected the handler's token (401): wrong or rotated key (copy with az signalr key list; primary vs secondary)" + svc
		if ep.skewKnown && math.Abs(ep.skew) > skewFail.Seconds() {
			msg += fmt.Sprintf("; this machine's clock is %.0f s off the service's, which alone makes every token invalid", ep.skew)
		}
		r.add(finding("auth "+label, Fail, apperr.CodeServiceUnauthorized, msg, "Copy the current key: az signalr key list -n NAME -g GROUP --query primaryConnectionString -o tsv (after regenerating the primary key, use the secondary until you update every app).", ad))
	case http.StatusForbidden:
		r.add(finding("auth "+label, Fail, apperr.CodeServiceForbidden, "the service refused the call (403): missing role or network rule (a private endpoint or network ACL that denies this network; with Microsoft Entra ID, a missing SignalR App Server role)"+svc, "", ad))
	case http.StatusTooManyRequests:
		r.add(finding("auth "+label, Warn, apperr.CodeServiceThrottled, "the service throttled the call (429)"+svc, "", ad))
	case http.StatusBadRequest:
		r.add(finding("auth "+label, Fail, apperr.CodeServiceBadRequest, "the service refused the call as invalid (400)"+svc, "", ad))
	default:
		code := apperr.CodeServiceError
		if resp.status >= 500 {
			code = apperr.CodeServiceUnavailable
		}
		r.add(finding("auth "+label, Fail, code, fmt.Sprintf("the service answered %d to the authenticated call%s", resp.status, svc), "", ad))
	}
}

// clientOptions are the options of the doctor's SDK clients: one try
// bounded by the step timeout, no circuit breaker, the doctor's trusted
// roots, and rec to see what was sent and answered.
func (r *runner) clientOptions(rec *restRecorder) *signalr.ClientOptions {
	o := &signalr.ClientOptions{
		TLSConfig:   &tls.Config{RootCAs: r.opts.RootCAs},
		RetryBudget: r.opts.Timeout,
		Breaker:     signalr.BreakerOptions{Disabled: true},
		Logger:      slog.New(slog.DiscardHandler),
		Now:         r.opts.Now,
		ServerName:  "handler-doctor",
	}
	o.Retry.MaxRetries = -1 // one try
	o.Retry.TryTimeout = r.opts.Timeout
	o.Telemetry.ApplicationID = "handler-doctor"
	o.PerRetryPolicies = []policy.Policy{rec}
	return o
}

// restRecorder is a per-try policy of the doctor's SDK clients that
// remembers the URL of the last request and the status of its answer.
type restRecorder struct {
	mu     sync.Mutex
	url    string
	status int
}

// Do implements policy.Policy.
func (p *restRecorder) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	p.mu.Lock()
	p.url, p.status = req.Raw().URL.String(), 0
	if resp != nil {
		p.status = resp.StatusCode
	}
	p.mu.Unlock()
	return resp, err
}

func (p *restRecorder) last() (string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.url, p.status
}

// responseOf is the service's answer carried by an SDK error.
func responseOf(re *signalr.ResponseError) *response {
	out := &response{status: re.StatusCode, header: http.Header{}}
	if raw := re.RawResponse; raw != nil {
		out.header = raw.Header
		out.body, _ = runtime.Payload(raw)
	}
	return out
}

// serviceSays returns "; the service says: …" from an error response's
// x-ms-error-code, WWW-Authenticate and JSON body, or "".
func serviceSays(resp *response) string { return says("the service", resp) }

// handlerSays is serviceSays for the running handler's answers.
func handlerSays(resp *response) string { return says("the handler", resp) }

func says(who string, resp *response) string {
	var parts []string
	if ec := resp.header.Get("x-ms-error-code"); ec != "" {
		parts = append(parts, textutil.Clean(ec, 100))
	}
	if wa := resp.header.Get("WWW-Authenticate"); wa != "" {
		parts = append(parts, textutil.Clean(wa, 200))
	}
	var body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if len(resp.body) > 0 && json.Unmarshal(resp.body, &body) == nil {
		m := body.Message
		if body.Error != nil && body.Error.Message != "" {
			m = body.Error.Message
		}
		if m != "" {
			parts = append(parts, textutil.Clean(m, 200))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + who + " says: " + strings.Join(parts, " — ")
}

// checkClock compares the service's Date header with this machine's clock.
func (r *runner) checkClock(ep *endpointConf, resp *response, sent time.Time) {
	check := "clock " + ep.name
	if resp == nil || resp.header.Get("Date") == "" {
		r.add(finding(check, Skip, "", "the service sent no Date header", "", nil))
		return
	}
	date, err := http.ParseTime(resp.header.Get("Date"))
	if err != nil {
		r.add(finding(check, Skip, "", "the service's Date header does not parse", "", nil))
		return
	}
	// The Date is whole seconds, taken between sending and receiving.
	local := sent.Add(resp.received.Sub(sent) / 2)
	skew := date.Sub(local).Round(time.Second)
	ep.skewKnown, ep.skew = true, skew.Seconds()
	d := map[string]string{"serviceDate": date.UTC().Format(time.RFC3339), "localDate": local.UTC().Format(time.RFC3339), "skewSeconds": strconv.FormatFloat(skew.Seconds(), 'f', 0, 64)}
	abs := skew.Abs()
	dir := "behind"
	if skew < 0 {
		dir = "ahead of"
	}
	switch {
	case abs > skewFail:
		r.add(finding(check, Fail, apperr.CodeServiceClockSkew, fmt.Sprintf("this machine's clock is %s %s the service's: tokens it signs look expired or not yet valid (exp, nbf) and get 401", abs, dir), "", d))
	case abs > skewWarn:
		r.add(finding(check, Warn, apperr.CodeServiceClockSkew, fmt.Sprintf("this machine's clock is %s %s the service's; tokens' nbf and exp allow only a few minutes", abs, dir), "", d))
	default:
		r.add(finding(check, Pass, "", fmt.Sprintf("this machine's clock is within %s of the service's", skewWarn), "", d))
	}
}

// classifyNetErr names a network error with an apperr code.
func classifyNetErr(err error, timeout time.Duration) (string, string) {
	var de *net.DNSError
	var ae tls.AlertError
	var rhe tls.RecordHeaderError
	var ce *tls.CertificateVerificationError
	switch {
	case netutil.IsTimeout(err):
		return apperr.CodeServiceTimeout, fmt.Sprintf("no answer within %s (the timeout of each step; --timeout changes it)", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return apperr.CodeServiceUnreachable, "connection refused: nothing listens there (is the service or the emulator running?)"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.CodeServiceUnreachable, "the connection was closed by the other side: " + err.Error()
	case errors.As(err, &de):
		if de.IsNotFound {
			return apperr.CodeServiceUnreachable, "host " + de.Name + " does not exist"
		}
		return apperr.CodeServiceUnreachable, err.Error()
	case errors.As(err, &ae), errors.As(err, &rhe), errors.As(err, &ce):
		return apperr.CodeServiceTLS, err.Error()
	case strings.Contains(err.Error(), "tls:"):
		return apperr.CodeServiceTLS, err.Error()
	}
	return apperr.CodeServiceUnreachable, err.Error()
}
