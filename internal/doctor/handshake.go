package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/netutil"
	"github.com/serverless-signalr/functions-go/internal/textutil"
)

// handshakeRequest is the JSON hub protocol handshake @microsoft/signalr
// sends first.
const handshakeRequest = "{\"protocol\":\"json\",\"version\":1}\x1e"

// handshakeReadLimit bounds the frames read while waiting for the
// handshake answer.
const handshakeReadLimit = 64 << 10

// transportNames returns the transport names of a negotiate answer.
func transportNames(raw []json.RawMessage) []string {
	var names []string
	for _, t := range raw {
		var tr struct {
			Transport string `json:"transport"`
		}
		if json.Unmarshal(t, &tr) == nil && tr.Transport != "" {
			names = append(names, tr.Transport)
		}
	}
	return names
}

// clientSocketURL is the WebSocket URL the JS client opens after the
// service's negotiate: the client url with ws(s) for http(s) and the
// connection's id appended.
func clientSocketURL(svc *url.URL, id string) string {
	u := *svc
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Fragment = ""
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "id=" + url.QueryEscape(id)
	return u.String()
}

// shownSocketURL is the WebSocket URL with the connection token left out,
// for messages and details.
func shownSocketURL(svc *url.URL) string {
	return strings.Replace(clientSocketURL(svc, "x"), "id=x", "id=<connectionToken>", 1)
}

// isDefaultModeError reports whether a handshake error is the service's
// "not in Serverless mode" refusal ("SignalR Service is now in 'Default'
// service mode. … app servers are not connected.").
func isDefaultModeError(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "default") && strings.Contains(m, "service mode")
}

// checkServiceHandshake connects like @microsoft/signalr after the
// service's negotiate: a WebSocket to the client url with the connection's
// id and the bearer token, then the JSON hub protocol handshake. It catches
// what negotiate cannot show, above all a service in Default mode without
// app servers, which refuses every handshake. It runs only after the
// service's negotiate passed, so svc lies under a configured endpoint.
func (r *runner) checkServiceHandshake(ctx context.Context, svc *url.URL, token string, nb negotiateBody) {
	const check = "service handshake"
	shown := shownSocketURL(svc)
	d := map[string]string{"url": shown}
	names := transportNames(nb.AvailableTransports)
	hasWS := false
	for _, n := range names {
		if strings.EqualFold(n, "WebSockets") {
			hasWS = true
		}
	}
	if !hasWS {
		r.add(finding(check, Skip, "", fmt.Sprintf("the service did not offer WebSockets (it offered %s): the doctor checks the hub handshake over WebSockets only", strings.Join(names, ", ")), "Enable WebSockets on the service (it is on by default) to have the handshake checked.", d))
		return
	}
	id := nb.ConnectionToken
	if id == "" {
		id = nb.ConnectionID // negotiateVersion 0: the id is the connection id
	}

	dctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	h.Set("X-SignalR-User-Agent", "Microsoft SignalR/10.0 (handler-doctor; Go)")
	if r.opts.Origin != "" {
		h.Set("Origin", r.opts.Origin)
	}
	ws, resp, err := websocket.Dial(dctx, clientSocketURL(svc, id), &websocket.DialOptions{HTTPClient: r.httpClient(), HTTPHeader: h})
	if err != nil {
		r.add(r.upgradeRefused(check, shown, resp, err, d))
		return
	}
	defer r.closePolitely(ws)
	ws.SetReadLimit(handshakeReadLimit)

	hctx, hcancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer hcancel()
	reply, err := readHandshakeReply(hctx, ws)
	if err != nil {
		r.add(r.handshakeFailed(check, err, d))
		return
	}
	v := judgeHandshake(reply)
	switch {
	case v.errText != "":
		d["handshakeError"] = v.errText
		if v.code == apperr.CodeServiceNotServerless {
			r.add(finding(check, Fail, v.code, fmt.Sprintf("negotiate succeeded, but the service refused the client's handshake on %s with %q and closed the connection: it is in Default mode, which routes clients to app servers, and a Functions backend never connects as one", shown, v.errText), "", d))
			return
		}
		r.add(finding(check, Fail, v.code, fmt.Sprintf("the service refused the client's handshake on %s: %q", shown, v.errText), "See the service's message; @microsoft/signalr reports it as \"Server returned handshake error\".", d))
		return
	case v.problem != "":
		r.add(finding(check, Fail, v.code, fmt.Sprintf("the service answered the handshake with %q, %s", textutil.Clean(string(reply), 100), v.problem), "", d))
		return
	}
	r.add(finding(check, Pass, "", fmt.Sprintf("WebSocket to %s opened with the client token and the JSON hub protocol handshake was accepted ({})", shown), "", d))
}

// handshakeVerdict is what @microsoft/signalr makes of a handshake answer.
type handshakeVerdict struct {
	// code is "" when the client accepts the answer.
	code string
	// errText is the cleaned error the service sent, if any.
	errText string
	// problem says why an answer without error text is not accepted.
	problem string
}

// judgeHandshake judges the first record the service answered, as the JS
// client's HandshakeProtocol does: a JSON object; a truthy "type" means a
// hub message came first; a truthy "error" is a refusal.
func judgeHandshake(reply []byte) handshakeVerdict {
	var obj map[string]json.RawMessage
	if json.Unmarshal(reply, &obj) != nil || obj == nil {
		return handshakeVerdict{code: apperr.CodeServiceError, problem: "which is not the JSON object @microsoft/signalr expects as the handshake answer"}
	}
	if t, ok := obj["type"]; ok && truthy(t) {
		return handshakeVerdict{code: apperr.CodeServiceError, problem: "a hub message instead of the handshake answer (the client fails with \"Expected a handshake response from the server\")"}
	}
	e, ok := obj["error"]
	if !ok || !truthy(e) {
		return handshakeVerdict{}
	}
	var text string
	if json.Unmarshal(e, &text) != nil {
		text = string(e)
	}
	v := handshakeVerdict{code: apperr.CodeServiceError, errText: textutil.Clean(text, 300)}
	if v.errText == "" {
		v.errText = "(unprintable error text)"
	}
	if isDefaultModeError(text) {
		v.code = apperr.CodeServiceNotServerless
	}
	return v
}

// truthy reports whether a JSON value is truthy in JavaScript.
func truthy(raw json.RawMessage) bool {
	switch s := strings.TrimSpace(string(raw)); s {
	case "", "null", "false", `""`:
		return false
	default:
		var f float64
		if json.Unmarshal(raw, &f) == nil {
			return f != 0
		}
		return true
	}
}

// readHandshakeReply sends the handshake and returns the first record the
// service answers, without its separator.
func readHandshakeReply(ctx context.Context, ws *websocket.Conn) ([]byte, error) {
	if err := ws.Write(ctx, websocket.MessageText, []byte(handshakeRequest)); err != nil {
		return nil, fmt.Errorf("sending the handshake: %w", err)
	}
	var buf []byte
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		if typ != websocket.MessageText {
			return nil, errors.New("the service answered the handshake with a binary frame; the JSON hub protocol is text")
		}
		buf = append(buf, data...)
		if i := bytes.IndexByte(buf, 0x1e); i >= 0 {
			return buf[:i], nil
		}
		if len(buf) > handshakeReadLimit {
			return nil, errors.New("the handshake answer has no record separator within 64 KiB")
		}
	}
}

// handshakeFailed explains an error while sending the handshake or waiting
// for its answer.
func (r *runner) handshakeFailed(check string, err error, d map[string]string) Finding {
	if netutil.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return finding(check, Fail, apperr.CodeServiceTimeout, fmt.Sprintf("the WebSocket opened, but the service did not answer the handshake within %s (the timeout of each step; --timeout changes it)", r.opts.Timeout), "", d)
	}
	if st := websocket.CloseStatus(err); st != -1 {
		var ce websocket.CloseError
		reason := ""
		if errors.As(err, &ce) && ce.Reason != "" {
			reason = " (" + textutil.Clean(ce.Reason, 200) + ")"
		}
		d["closeStatus"] = fmt.Sprint(int(st))
		return finding(check, Fail, apperr.CodeServiceError, fmt.Sprintf("the service closed the WebSocket with status %d%s before answering the handshake", int(st), reason), "", d)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return finding(check, Fail, apperr.CodeServiceError, "the service dropped the WebSocket before answering the handshake", "", d)
	}
	return finding(check, Fail, apperr.CodeServiceError, "the handshake failed: "+textutil.Clean(err.Error(), 300), "", d)
}

// upgradeRefused explains a failed WebSocket dial: a refused upgrade with
// its status and the service's explanation, or a network error.
func (r *runner) upgradeRefused(check, shown string, resp *http.Response, err error, d map[string]string) Finding {
	if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		code, msg := classifyNetErr(err, r.opts.Timeout)
		return finding(check, Fail, code, "WebSocket to "+shown+": "+msg, "", d)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	res := &response{status: resp.StatusCode, header: resp.Header, body: body}
	d["status"] = fmt.Sprint(resp.StatusCode)
	says := serviceSays(res)
	if text := textutil.Clean(string(body), 200); text != "" && !json.Valid(body) {
		if says == "" {
			says = "; the service says: " + text
		} else {
			says += " — " + text
		}
	}
	msg := fmt.Sprintf("the service refused the WebSocket upgrade to %s with %d%s", shown, resp.StatusCode, says)
	code, fix := apperr.CodeServiceError, ""
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		code = apperr.CodeServiceUnauthorized
		msg += ": the token the service accepted at negotiate was refused at connect (expired within --timeout, or audience/key checked differently)"
	case resp.StatusCode == http.StatusForbidden:
		code = apperr.CodeServiceForbidden
		if r.opts.Origin != "" {
			msg += " (the upgrade carried Origin " + r.opts.Origin + ", as a browser's does: the service's CORS allowed origins may not list it)"
		}
	case resp.StatusCode == http.StatusNotFound:
		code = apperr.CodeServiceNotFound
		msg += ": the client endpoint or the connection token (valid for one connection, shortly after negotiate) was not found"
		fix = "Check ClientEndpoint in the connection string and that nothing between the client and the service strips ?id= or the WebSocket upgrade."
	case resp.StatusCode == http.StatusTooManyRequests:
		code = apperr.CodeServiceThrottled
	case resp.StatusCode >= 500:
		code = apperr.CodeServiceUnavailable
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		msg += " instead of 101 Switching Protocols: a proxy or server between here and the service does not pass WebSockets"
		fix = "Allow WebSocket upgrades on every proxy between the clients and the service."
	}
	return finding(check, Fail, code, msg, fix, d)
}

// closePolitely sends a normal close frame and waits for the service's,
// bounded by the step timeout.
func (r *runner) closePolitely(ws *websocket.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}()
	select {
	case <-done:
	case <-time.After(r.opts.Timeout):
		ws.CloseNow()
		<-done
	}
}
