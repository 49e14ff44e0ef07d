package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/serverless-signalr/functions-go/customhandler"
	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/signalr"
)

// maxTriggerEnvelope bounds a signalRTrigger invocation envelope: the
// client's message (at most 1 MB) JSON-escaped, plus the context.
const maxTriggerEnvelope = 4 << 20

// serveTrigger serves the Functions host's invocation of a function whose
// function.json declares a signalRTrigger (any folder name: POST
// /<function>): the host received the service's upstream call at
// /runtime/webhooks/signalr, checked its signature, and sends the
// InvocationContext in Data.<binding name>. It is dispatched to the same
// chat hub as /api/upstream; the method's result becomes ReturnValue,
// which the extension (1.15.0+) puts in the completion. It reports false,
// without answering, when r is not such an invocation.
func (s *Server) serveTrigger(w http.ResponseWriter, r *http.Request) bool {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if r.Method != http.MethodPost || name == "" || strings.Contains(name, "/") {
		return false
	}
	inv, err := customhandler.DecodeInvocation(r.Body, maxTriggerEnvelope)
	if err != nil {
		return false
	}
	ic, err := inv.SignalRTrigger("")
	if err != nil {
		return false
	}
	u := upstreamFromContext(ic)
	res := s.upstream.Dispatch(r.Context(), u)
	answer := customhandler.InvocationResponse{Outputs: map[string]any{}, Logs: []string{}}
	switch {
	case res.Refused != nil:
		// A non-2xx answer fails the function: the host logs it (a
		// connection event) or the extension answers an error completion.
		e := apperr.FromSignalR(res.Refused)
		s.logFailure(r, e, apperr.Status(e.Code))
		apperr.Write(w, e)
		return true
	case res.Error != "":
		s.log.Debug("signalRTrigger: hub method failed", "function", name, "event", u.Event, "error", res.Error)
		apperr.Write(w, apperr.New(apperr.CodeUpstreamMethodFailed, res.Error, ""))
		return true
	}
	answer.ReturnValue = res.Value
	b, err := json.Marshal(answer)
	if err != nil {
		apperr.Write(w, apperr.New(apperr.CodeUpstreamMethodFailed, "The hub method's result could not be serialized.", ""))
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	return true
}

// upstreamFromContext turns the extension's InvocationContext into the
// request the hub API dispatches: arguments in JSON, no invocation id (the
// extension answers the client itself).
func upstreamFromContext(ic *customhandler.InvocationContext) *signalr.UpstreamRequest {
	u := &signalr.UpstreamRequest{
		ConnectionID: ic.ConnectionID,
		Hub:          ic.Hub,
		Category:     ic.Category,
		Event:        ic.Event,
		UserID:       ic.UserID,
		Protocol:     signalr.ProtocolJSON,
		Endpoint:     -1,
		Error:        ic.Error,
	}
	if ic.Category == signalr.UpstreamMessages {
		u.Target = ic.Event
	}
	for _, a := range ic.Arguments {
		u.RawArguments = append(u.RawArguments, a)
	}
	types := make([]string, 0, len(ic.Claims))
	for t := range ic.Claims {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		u.Claims = append(u.Claims, signalr.Claim{Type: t, Value: ic.Claims[t]})
	}
	if len(ic.Query) > 0 {
		u.Query = url.Values{}
		for k, v := range ic.Query {
			if k != "access_token" {
				u.Query.Set(k, v)
			}
		}
	}
	return u
}
