package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/serverless-signalr/functions-go/internal/apperr"
	"github.com/serverless-signalr/functions-go/internal/textutil"
	"github.com/serverless-signalr/functions-go/signalr"
)

// maxInvokeBody bounds the invoke body: one message (the service takes 1 MB).
const maxInvokeBody = signalr.MaxPayloadSize + 4<<10

// invokeRequest is the body of POST /api/invoke.
type invokeRequest struct {
	ConnectionID string          `json:"connectionId"`
	Target       string          `json:"target"`
	Arguments    json.RawMessage `json:"arguments"`
	Timeout      *float64        `json:"timeout"` // seconds
}

// handleInvoke serves "POST /api/invoke" {"connectionId","target",
// "arguments","timeout"}: the client's handler for target is called through
// the service's POST …/connections/{id}/:invoke (api-version 2024-12-01)
// and its return value is the answer, 200 {"result":…}. The connection is
// looked for on every endpoint in turn. timeout (whole seconds) defaults to
// and may not exceed SIGNALR_INVOKE_MAX_TIMEOUT.
func (s *Server) handleInvoke(w http.ResponseWriter, r *http.Request) {
	hub, err := s.pickHub(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req, timeout, aerr := s.decodeInvoke(r.Body)
	if aerr != nil {
		s.fail(w, r, aerr)
		return
	}
	msg := signalr.Message{Target: req.Target, Arguments: req.Arguments}
	// A backstop over the per-try timeout the SDK applies.
	ctx, cancel := context.WithTimeout(r.Context(), timeout+2*time.Second)
	defer cancel()
	var last error
	for _, ep := range s.endpoints.list {
		res, err := ep.client.Invoke(ctx, hub, req.ConnectionID, msg, &signalr.InvokeOptions{Timeout: timeout})
		if err == nil {
			result := res.Result
			if result == nil {
				result = json.RawMessage("null")
			}
			writeJSON(w, http.StatusOK, struct {
				Result json.RawMessage `json:"result"`
			}{result})
			return
		}
		if !connectionNotExisted(err) {
			s.fail(w, r, invokeError(err, req, timeout))
			return
		}
		last = err
	}
	s.fail(w, r, apperr.Wrap(last, apperr.CodeInvokeConnectionNotFound,
		fmt.Sprintf("connection %q is not connected to hub %s (or it disconnected before it answered)", textutil.Truncate(req.ConnectionID, 128), hub)))
}

// decodeInvoke reads and checks the body.
func (s *Server) decodeInvoke(body io.Reader) (invokeRequest, time.Duration, *apperr.Error) {
	var req invokeRequest
	bad := func(format string, args ...any) (invokeRequest, time.Duration, *apperr.Error) {
		return invokeRequest{}, 0, apperr.New(apperr.CodeInvokeInvalid, fmt.Sprintf(format, args...), "")
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return invokeRequest{}, 0, bodyReadError(err, maxInvokeBody)
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return bad("the body is not a JSON object {\"connectionId\",\"target\",\"arguments\":[...],\"timeout\":seconds}")
	}
	if req.ConnectionID == "" {
		return bad("connectionId is missing: the connection whose handler to call")
	}
	if strings.TrimSpace(req.Target) == "" {
		return bad("target is missing: the name the client registered with connection.on")
	}
	args := bytes.TrimSpace(req.Arguments)
	switch {
	case len(args) == 0 || string(args) == "null":
		req.Arguments = json.RawMessage("[]")
	case args[0] != '[':
		return bad("arguments must be a JSON array")
	}
	max := s.cfg.InvokeMaxTimeout
	if max <= 0 {
		max = defaultInvokeMaxTimeout
	}
	timeout := max
	if req.Timeout != nil {
		t := *req.Timeout
		if t != float64(int64(t)) || t < 1 || time.Duration(t)*time.Second > max {
			return bad("timeout is %v; it must be whole seconds from 1 to %d (SIGNALR_INVOKE_MAX_TIMEOUT)", t, int(max/time.Second))
		}
		timeout = time.Duration(t) * time.Second
	}
	return req, timeout, nil
}

// connectionNotExisted reports the service's 404 for an unknown or gone
// connection (x-ms-error-code …Connection.NotExisted).
func connectionNotExisted(err error) bool {
	var re *signalr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && strings.Contains(re.ErrorCode, "Connection.NotExisted")
}

// invokeError maps a failed invocation: the client's own error, no answer
// in time, a service without the api-version, anything else as the SDK's
// error says.
func invokeError(err error, req invokeRequest, timeout time.Duration) error {
	var re *signalr.ResponseError
	var ce *signalr.ConnectionError
	switch {
	case errors.As(err, &re) && (re.StatusCode == http.StatusGatewayTimeout || strings.Contains(re.ErrorCode, "Timeout")):
	case errors.As(err, &ce) && ce.Kind == signalr.ConnectionTimeout:
	case errors.Is(err, context.DeadlineExceeded):
	case errors.As(err, &re) && re.StatusCode < 500 && strings.Contains(re.ErrorCode, "Invocation"):
		msg := re.Message
		if msg == "" {
			msg = re.ErrorCode
		}
		return apperr.Wrap(err, apperr.CodeInvokeClientError, fmt.Sprintf("the client's %s handler failed: %s", textutil.Truncate(req.Target, 64), textutil.Truncate(msg, 512)))
	default:
		return featureError(err, "client invocation (:invoke, api-version 2024-12-01)")
	}
	return apperr.Wrap(err, apperr.CodeInvokeTimeout, fmt.Sprintf("connection %q did not answer %s within %s", textutil.Truncate(req.ConnectionID, 128), textutil.Truncate(req.Target, 64), timeout))
}

// defaultInvokeMaxTimeout is SIGNALR_INVOKE_MAX_TIMEOUT's default, for a
// Config built in code.
const defaultInvokeMaxTimeout = 30 * time.Second
