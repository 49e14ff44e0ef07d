package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// doctorTarget is the method of the signed test invocation: no hub has it,
// so a working upstream answers with an error completion naming it.
const doctorTarget = "handlerDoctorPing"

// checkUpstream (with Options.Upstream) plays the service: it POSTs a
// correctly signed connected event, a test invocation with an invocation
// id, and a disconnected event to the upstream URL, signed with every
// AccessKey of the configured endpoints, and explains the answers. Upstream
// misconfiguration is the usual "my trigger never fires" (azure-signalr#1122,
// #1189; azure-functions-signalrservice-extension#146).
func (r *runner) checkUpstream(ctx context.Context) {
	target := r.opts.Upstream
	if target == "" {
		return
	}
	var keys []string
	for _, ep := range r.endpoints {
		if ep.cs != nil && ep.cs.AccessKey != "" {
			keys = append(keys, ep.cs.AccessKey)
		}
	}
	if len(keys) == 0 {
		r.add(finding("upstream connected", Skip, "", "no endpoint has an AccessKey to sign the upstream calls with (Microsoft Entra ID endpoints authenticate upstream calls with a managed-identity token)", "", nil))
		return
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	conn := "doctor-" + hex.EncodeToString(rnd[:])
	hub := r.cfg.HubName
	if hub == "" {
		hub = "chat"
	}
	client := &http.Client{Timeout: r.opts.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(category, event, body string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		h := req.Header
		h.Set("Content-Type", signalr.ContentTypeJSON)
		h.Set(signalr.HeaderUpstreamConnectionID, conn)
		h.Set(signalr.HeaderUpstreamHub, hub)
		h.Set(signalr.HeaderUpstreamCategory, category)
		h.Set(signalr.HeaderUpstreamEvent, event)
		h.Set(signalr.HeaderUpstreamUserClaims, "")
		h.Set(signalr.HeaderUpstreamSignature, signalr.UpstreamSignature(conn, keys...))
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, b, err
	}
	d := map[string]string{"url": redactQuery(target), "hub": hub, "connectionId": conn}

	st, body, err := call(signalr.UpstreamConnections, signalr.UpstreamConnected, `{"type":10}`)
	if f, ok := judgeUpstreamStatus("upstream connected", st, body, err, d); !ok {
		r.add(f)
		r.add(finding("upstream invocation", Skip, "", "the connected event failed", "", nil))
		return
	}
	r.add(finding("upstream connected", Pass, "", fmt.Sprintf("a signed connected event was accepted (%d)", st), "", d))

	inv := `{"type":1,"invocationId":"1","target":"` + doctorTarget + `","arguments":[]}`
	st, body, err = call(signalr.UpstreamMessages, doctorTarget, inv)
	if f, ok := judgeUpstreamStatus("upstream invocation", st, body, err, d); !ok {
		r.add(f)
	} else {
		r.add(judgeUpstreamCompletion(st, body, d))
	}
	// Leave no connection behind in the hub's presence.
	_, _, _ = call(signalr.UpstreamConnections, signalr.UpstreamDisconnected, `{"type":11}`)
}

// judgeUpstreamStatus explains a non-2xx answer or a transport error; ok
// is true for 2xx.
func judgeUpstreamStatus(check string, status int, body []byte, err error, d map[string]string) (Finding, bool) {
	if err != nil {
		var ne net.Error
		msg := "the upstream could not be reached: " + err.Error()
		if errors.As(err, &ne) && ne.Timeout() {
			msg = "the upstream did not answer in time (the service waits a bounded time, then the client's invoke fails)"
		}
		return finding(check, Fail, apperr.CodeHandlerUnreachable, msg, "Check the URL (the function app's https://APP.azurewebsites.net/api/upstream?code=KEY, or http://localhost:7071/api/upstream locally) and that the handler runs.", d), false
	}
	if status >= 200 && status <= 299 {
		return Finding{}, true
	}
	dd := map[string]string{"status": strconv.Itoa(status), "body": clipText(body, 300)}
	for k, v := range d {
		dd[k] = v
	}
	switch status {
	case http.StatusUnauthorized:
		return finding(check, Fail, apperr.CodeUpstreamSignatureMismatch,
			"the upstream refused the signature (401): the handler behind this URL has an AccessKey that differs from these settings' (the service's)",
			"Give the deployed handler the service's current key (`az signalr key list`; after a rotation, the new one), or run the doctor with the deployed app's settings.", dd), false
	case http.StatusNotFound:
		return finding(check, Fail, apperr.CodeRouteNotFound,
			"the upstream answered 404: a wrong route (the function is /api/upstream; the trigger path is /runtime/webhooks/signalr), or in Azure a missing or wrong ?code= function key",
			"Use https://APP.azurewebsites.net/api/upstream?code=$(az functionapp function keys list -g RG -n APP --function-name upstream --query default -o tsv) as the URL template.", dd), false
	}
	return finding(check, Fail, apperr.CodeHandlerBadResponse, fmt.Sprintf("the upstream answered %d, so the client's invoke fails with \"Invocation failed, status code %d\"", status, status), "See the upstream's log and the error code in the body.", dd), false
}

// judgeUpstreamCompletion checks the answer to the test invocation: a
// framed JSON Completion for invocation "1" (an error naming the unknown
// method is the expected answer of a hub without it), or an empty answer.
func judgeUpstreamCompletion(status int, body []byte, d map[string]string) Finding {
	const check = "upstream invocation"
	if status == http.StatusNoContent || len(bytes.TrimSpace(body)) == 0 {
		return finding(check, Pass, "", fmt.Sprintf("the test invocation was answered %d without a body: the client gets an empty completion", status), "", d)
	}
	c, err := signalr.ParseCompletion(signalr.ProtocolJSON, body)
	if err != nil {
		dd := map[string]string{"body": clipText(body, 300)}
		for k, v := range d {
			dd[k] = v
		}
		return finding(check, Fail, apperr.CodeHandlerBadResponse, "the answer to an invocation is not a framed JSON Completion ("+err.Error()+"): the client's invoke never resolves as expected",
			"Answer 200 with {\"type\":3,\"invocationId\":…,\"result\"|\"error\":…} followed by the 0x1E record separator (signalr.WriteUpstreamResult does), or 204.", dd)
	}
	if c.InvocationID != "1" {
		return finding(check, Fail, apperr.CodeHandlerBadResponse, fmt.Sprintf("the completion answers invocation %q, not \"1\": the client waits forever", c.InvocationID), "Copy the invocationId of the request into the completion.", d)
	}
	what := "a result"
	if c.Error != "" {
		what = "the error " + strconv.Quote(clipText([]byte(c.Error), 200))
	} else if !c.HasResult {
		what = "no result (void)"
	}
	return finding(check, Pass, "", "a signed test invocation of "+doctorTarget+" got a well-formed completion with "+what, "", d)
}

// clipText is untrusted response text made safe to print: control
// characters cleaned, at most n bytes.
func clipText(b []byte, n int) string { return textutil.Clean(string(b), n) }

// redactQuery hides the query of u (function keys travel in ?code=).
func redactQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
