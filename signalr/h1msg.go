package signalr

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/textutil"
)

// The HTTP/1.1 messages of the client's own transport (h1.go). The
// requests the client builds and the plain answers the service gives are
// written and read here in one pass; anything else goes to net/http's
// Request.Write and http.ReadResponse, against which a differential test
// and a fuzz target check both (h1msg_internal_test.go, FuzzPlainHead).

// writeRequest writes req on bw as HTTP/1.1. The requests the client
// builds (a known length, a body in memory or none, no trailer, an ASCII
// host, header names and values net/http's transport would accept) are
// written here in one pass: net/http's Request.Write sorts a copy of the
// header and passes every value through a strings.Replacer (a send's
// request: 1.1–1.4 µs and 3 allocations here, 2.0–2.6 µs and 10 there;
// BenchmarkWriteRequest). Anything else goes to Request.Write.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	if !ownWritable(req) {
		return req.Write(bw)
	}
	host := cmp.Or(req.Host, req.URL.Host)
	bw.WriteString(cmp.Or(req.Method, http.MethodGet))
	bw.WriteByte(' ')
	bw.WriteString(req.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	// As Request.Write: the first User-Agent, net/http's when there is none,
	// none when it is empty.
	ua := "Go-http-client/1.1"
	if vs, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(vs) > 0 {
			ua = vs[0]
		}
	}
	writeField(bw, "User-Agent", ua)
	for k, vs := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // written from the request's fields, as Request.Write does
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	// Request.Write's rule: a length when there is a body, and 0 for the
	// methods that expect one.
	if n := req.ContentLength; n > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, 10))
		bw.WriteString("\r\n")
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return err
	}
	if req.ContentLength == 0 {
		return nil
	}
	n, err := io.Copy(bw, req.Body)
	req.Body.Close()
	if err == nil && n != req.ContentLength {
		err = fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, n)
	}
	return err
}

// ownWritable reports whether writeRequest writes req itself: a known
// length with a body exactly when it is positive, no trailer, no
// Connection: close, a plain host and a valid header.
func ownWritable(req *http.Request) bool {
	return req.ContentLength >= 0 && len(req.TransferEncoding) == 0 && req.Trailer == nil && !req.Close &&
		(req.ContentLength > 0) == (req.Body != nil && req.Body != http.NoBody) &&
		plainHost(cmp.Or(req.Host, req.URL.Host)) && validHeader(req.Header)
}

// writeField writes one header field, its value trimmed of spaces and
// tabs as Request.Write trims it; an empty User-Agent is not written.
func writeField(bw *bufio.Writer, k, v string) {
	if v = strings.Trim(v, " \t"); v == "" && k == "User-Agent" {
		return
	}
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// plainHost reports whether host is an ASCII host name or address with an
// optional port, which Request.Write would send unchanged (no punycode,
// no IPv6 zone to remove).
func plainHost(host string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		b := host[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte(".-_:[]", b) >= 0) {
			return false
		}
	}
	return true
}

// validHeader reports whether every name of h is an HTTP token and every
// value is free of control characters other than tab, as net/http's
// transport requires (it refuses a request otherwise).
func validHeader(h http.Header) bool {
	for k, vs := range h {
		if !textutil.IsToken(k) {
			return false
		}
		for _, v := range vs {
			if !validValue(v) {
				return false
			}
		}
	}
	return true
}

// validValue reports whether v holds no control character but tab.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// readPlainHead reads the head of a plain answer from br when all of it
// is already buffered (the caller has waited for its first bytes), as
// http.ReadResponse would read it, and reports
// whether it did. A plain answer is HTTP/1.1 with a final status (not
// 1xx, not 101), header lines of a token name and a value without control
// characters (no folded lines), no Transfer-Encoding, a Connection header
// of keep-alive if any, and one valid Content-Length unless it has no
// body (204, 304, or the answer to HEAD). For anything else nothing is
// consumed and the caller reads the head with http.ReadResponse.
// The emulator's answer to a send takes 0.9–1.2 µs and 5 allocations
// here, 1.3–1.5 µs and 8 in http.ReadResponse (BenchmarkReadHead).
func readPlainHead(br *bufio.Reader, req *http.Request) (*http.Response, bool) {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false
	}
	// One string holds the status and every value (substrings of it), and
	// one array every value's slice, as textproto.Reader does.
	head := string(buf[:end+2]) // every line with its CRLF
	line, head, _ := strings.Cut(head, "\r\n")
	code, status, ok := statusLine(line)
	if !ok {
		return nil, false
	}
	lines := strings.Count(head, "\r\n")
	values := make([]string, lines)
	noBody := code == http.StatusNoContent || code == http.StatusNotModified || req.Method == http.MethodHead
	resp := &http.Response{Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, lines), ContentLength: -1, Request: req}
	for i := 0; len(head) > 0; i++ {
		line, head, _ = strings.Cut(head, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok || !textutil.IsToken(name) {
			return nil, false
		}
		value = strings.Trim(value, " \t")
		if !validValue(value) {
			return nil, false
		}
		k := headerKey(name)
		switch k {
		case "Transfer-Encoding", "Trailer", "Pragma":
			return nil, false // Pragma: ReadResponse may add a Cache-Control
		case "Connection":
			if !strings.EqualFold(value, "keep-alive") {
				return nil, false
			}
		case "Content-Length":
			n, err := strconv.ParseUint(value, 10, 63) // as net/http parses it
			if err != nil || resp.ContentLength >= 0 {
				return nil, false
			}
			resp.ContentLength = int64(n)
		}
		if vs, ok := resp.Header[k]; ok {
			resp.Header[k] = append(vs, value)
		} else {
			values[i] = value
			resp.Header[k] = values[i : i+1 : i+1]
		}
	}
	switch {
	case noBody:
		if req.Method != http.MethodHead {
			resp.ContentLength = 0 // the answer to HEAD keeps the length it announces
		}
		resp.Body = http.NoBody
	case resp.ContentLength < 0:
		return nil, false // a body up to the connection's end
	case resp.ContentLength == 0:
		resp.Body = http.NoBody
	default:
		resp.Body = &fixedBody{r: br, n: resp.ContentLength}
	}
	if _, err := br.Discard(end + 4); err != nil {
		return nil, false // not reached: those bytes are buffered
	}
	return resp, true
}

// statusLine parses "HTTP/1.1 202 Accepted": the code (a final one, 200
// to 599) and the status as http.Response.Status holds it ("202
// Accepted").
func statusLine(line string) (code int, status string, ok bool) {
	rest, ok := strings.CutPrefix(line, "HTTP/1.1 ")
	if !ok || len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') || !validValue(rest) {
		return 0, "", false
	}
	for _, b := range []byte(rest[:3]) {
		if b < '0' || b > '9' {
			return 0, "", false
		}
		code = code*10 + int(b-'0')
	}
	if code < 200 || code > 599 {
		return 0, "", false
	}
	return code, rest, true
}

// headerKey returns name in its canonical form, without allocating for
// the names the service's answers carry.
func headerKey(name string) string {
	for _, k := range [...]string{"Content-Length", "Content-Type", "Date", "Vary", "Connection", "Server",
		"Strict-Transport-Security", "X-Ms-Request-Id", "Retry-After", "Retry-After-Ms", "X-Ms-Retry-After-Ms",
		"Transfer-Encoding", "Trailer", "Pragma", "X-Ms-Error-Code"} {
		if len(k) == len(name) && strings.EqualFold(k, name) {
			return k
		}
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// fixedBody is the body of an answer with a Content-Length: n more
// bytes of r; an end of the connection before them is
// io.ErrUnexpectedEOF, as with http.ReadResponse's body.
type fixedBody struct {
	r *bufio.Reader
	n int64
}

func (b *fixedBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	switch {
	case b.n == 0:
		return n, io.EOF
	case errors.Is(err, io.EOF):
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (*fixedBody) Close() error { return nil }
