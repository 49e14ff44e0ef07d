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

// Do serves req with H and returns the recorded response.
func (t HandlerTransport) Do(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.H.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
