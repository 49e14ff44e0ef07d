package customhandler

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
)

// bufferedWriter is the in-memory http.ResponseWriter the wrapped handler
// writes to in JSON mode. It follows net/http's visible rules: headers are
// snapshotted at WriteHeader, the first status wins, 1xx statuses are
// ignored, an invalid status panics, and a body without Content-Type gets a
// sniffed one.
type bufferedWriter struct {
	header      http.Header
	sent        http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func newBufferedWriter() *bufferedWriter {
	return &bufferedWriter{header: make(http.Header)}
}

// Header implements http.ResponseWriter.
func (w *bufferedWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter.
func (w *bufferedWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader || code < 200 {
		return
	}
	w.status, w.wroteHeader = code, true
	w.sent = w.header.Clone()
}

// Write implements http.ResponseWriter.
func (w *bufferedWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(p)
}

// WriteString implements io.StringWriter.
func (w *bufferedWriter) WriteString(s string) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.WriteString(s)
}

// Flush implements http.Flusher; the host buffers the whole response
// anyway, so it only commits the status.
func (w *bufferedWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
}

// hopHeaders are response headers that describe the connection to the
// host, not the response the host will send to the caller.
var hopHeaders = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true}

// output renders what was written as the http output binding value.
// Multi-valued headers are joined with ", ".
func (w *bufferedWriter) output(head bool) HTTPOutput {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	h := w.sent
	body := w.body.String()
	if head {
		body = ""
	}
	out := HTTPOutput{StatusCode: w.status, Headers: make(map[string]string, len(h)+1), Body: body}
	for k, vs := range h {
		if len(vs) == 0 || hopHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		out.Headers[k] = strings.Join(vs, ", ")
	}
	if _, has := h["Content-Type"]; !has && w.body.Len() > 0 {
		out.Headers["Content-Type"] = http.DetectContentType(w.body.Bytes())
	}
	return out
}
