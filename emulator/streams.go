package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
)

// POST /api/hubs/{hub}/connections/{id}/streams/{streamId}/:send and
// …/:complete (api-version 2024-12-01, HubProxyV20241201_SendToConnectionStream
// and _CompleteConnectionStream in Azure/azure-signalr docs/swagger/v20241201.json):
// server-to-client stream items for the stream the client opened with
// invocation id streamId. :send takes one item, any JSON value, as the body
// and answers 202 after queueing a StreamItem {"type":2,"invocationId":
// streamId,"item":…}; with completed=true a Completion follows it. :complete
// queues the Completion, with ?reason= as its error when given. The swagger
// gives no body schema for :send; the emulator does not track which streams
// a client has open (the client ignores items for streams it does not know).

const maxStreamIDLen = 100

func validStreamID(s string) bool {
	return s != "" && len(s) <= maxStreamIDLen && strings.TrimSpace(s) != ""
}

// restStream serves both stream operations.
func (e *Emulator) restStream(w http.ResponseWriter, r *http.Request, key string, rt restRoute) {
	if !validStreamID(rt.stream) {
		writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "streamId", "invalid streamId: 1 to 100 characters, not only whitespace")
		return
	}
	q := r.URL.Query()
	var item json.RawMessage
	complete := rt.op == opStreamComplete
	if rt.op == opStreamSend {
		body, ok := e.readBody(w, r)
		if !ok {
			return
		}
		if !json.Valid(body) {
			writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "body", "the body must be the stream item, one JSON value")
			return
		}
		item = body
		switch q.Get("completed") {
		case "", "false", "False":
		case "true", "True":
			complete = true
		default:
			writeError(w, r, http.StatusBadRequest, codeInvalidRequest, "completed", "completed must be true or false")
			return
		}
	}
	c := e.lookupConn(w, r, key, rt.conn)
	if c == nil {
		return
	}
	if item != nil {
		c.enqueue(&outMessage{typ: msgStreamItem, invocationID: rt.stream, result: item})
	}
	if complete {
		c.enqueue(&outMessage{typ: msgCompletion, invocationID: rt.stream, err: q.Get("reason")})
	}
	w.WriteHeader(http.StatusAccepted)
}
