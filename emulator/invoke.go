package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// POST /api/hubs/{hub}/connections/{id}/:invoke (api-version 2024-12-01):
// "client results" without an app server. The body is a PayloadMessage
// {target, arguments}; the connection gets an Invocation with a fresh
// invocation id and the answer is the swagger's ClientInvocationResponse
// {"result": …} once the client's Completion arrives (Azure/azure-signalr
// docs/swagger/v20241201.json, HubProxyV20241201_InvokeClientConnection).
//
// The swagger documents only the 200 answer; the failures below are the
// emulator's choice, in the service's ErrorDetail shape:
//   - unknown connection, or one that ends before answering: 404
//     Error.Connection.NotExisted;
//   - the client answers with an error (its handler threw): 400
//     Error.Invocation.Failed carrying the client's message;
//   - no answer within Options.InvokeTimeout: 504 Error.Invocation.Timeout.

// DefaultInvokeTimeout is how long :invoke waits for the client when
// Options.InvokeTimeout is zero.
const DefaultInvokeTimeout = 60 * time.Second

const (
	codeInvocationFailed  = "Error.Invocation.Failed"
	codeInvocationTimeout = "Error.Invocation.Timeout"
)

// lookupConn returns the connection id of hub key, or answers 404.
func (e *Emulator) lookupConn(w http.ResponseWriter, r *http.Request, key, id string) *conn {
	e.mu.RLock()
	var c *conn
	if h := e.hubs[key]; h != nil {
		c = h.conns[id]
	}
	e.mu.RUnlock()
	if c == nil {
		writeError(w, r, http.StatusNotFound, codeErrConnNotExisted, "connectionId", fmt.Sprintf("connection %q does not exist in this hub", id))
	}
	return c
}

// restInvoke serves :invoke.
func (e *Emulator) restInvoke(w http.ResponseWriter, r *http.Request, key, id string) {
	body, ok := e.readBody(w, r)
	if !ok {
		return
	}
	p, err := decodePayload(body)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "body", err.Error())
		return
	}
	c := e.lookupConn(w, r, key, id)
	if c == nil {
		return
	}
	timeout := e.invokeTimeout
	if timeout <= 0 {
		timeout = DefaultInvokeTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	m, err := e.invokeClient(ctx, c, p.target, p.args)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, r, http.StatusGatewayTimeout, codeInvocationTimeout, "connectionId",
			fmt.Sprintf("connection %q did not answer the invocation of %q within %s", id, p.target, timeout))
		return
	case errors.Is(err, errConnectionGone):
		writeError(w, r, http.StatusNotFound, codeErrConnNotExisted, "connectionId",
			fmt.Sprintf("connection %q disconnected before it answered the invocation of %q", id, p.target))
		return
	case err != nil:
		return // the caller went away
	}
	if m.HasError {
		writeError(w, r, http.StatusBadRequest, codeInvocationFailed, "connectionId", m.Error)
		return
	}
	var out struct {
		Result json.RawMessage `json:"result,omitempty"`
	}
	if m.Result != nil {
		v, err := m.Protocol.toJSON(m.Result)
		if err != nil {
			writeError(w, r, http.StatusBadGateway, codeInvocationFailed, "connectionId", "the client's result cannot be written as JSON: "+err.Error())
			return
		}
		out.Result = v
	}
	writeJSON(w, out)
}
