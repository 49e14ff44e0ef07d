package testutil

import (
	"net/http"
	"net/http/httptest"
)

// HandlerTransport is an HTTP transport (a policy.Transporter, usable as
// an azcore ClientOptions.Transport) that answers each request by calling
// H on the caller's goroutine, without a network. Tests inside a
// testing/synctest bubble use it: a loopback server's goroutines are not
// part of the bubble, and sockets are not durably blocking.
type HandlerTransport struct{ H http.Handler }

// Do serves req with H and returns the recorded response, or the
// request context's error when it ended while H ran (as a real transport
// fails a request whose context ends before the answer).
func (t HandlerTransport) Do(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.H.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
