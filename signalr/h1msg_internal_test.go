package signalr

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// requestBytes is what writeRequest writes for req.
func requestBytes(t *testing.T, req *http.Request) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := writeRequest(bw, req); err != nil {
		t.Fatalf("writeRequest: %v", err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parsed is a request as a server reads it.
type parsed struct {
	method, uri, host string
	header            http.Header
	body              string
	length            int64
}

func parse(t *testing.T, b []byte) parsed {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("the request does not parse: %v\n%s", err, b)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return parsed{r.Method, r.RequestURI, r.Host, r.Header, string(body), r.ContentLength}
}

// newReq builds a request as the direct path does (see sendDirect).
func newReq(t *testing.T, method, u string, h http.Header, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, h)
	if body != "" {
		get := bodyOf([]byte(body), true)
		req.Body, _ = get()
		req.GetBody = get
		req.ContentLength = int64(len(body))
	}
	return req
}

// TestWriteRequestReadsAsRequestWrite: for the requests the client
// builds, and for the ones it hands to Request.Write, a server reads
// exactly what it reads from Request.Write: method, target, host,
// header fields and body.
func TestWriteRequestReadsAsRequestWrite(t *testing.T) {
	send := "http://svc.example:8080/api/hubs/chat/:send?api-version=2022-06-01"
	common := http.Header{
		"User-Agent":      {"serverless-signalr-go/v0.1.0"},
		"Asrs-User-Agent": {"serverless-signalr-go/v0.1.0"},
		"Authorization":   {"Bearer abc.def.ghi"},
		"Content-Type":    {"application/json; charset=utf-8"},
	}
	cases := []struct {
		name, method, url, body string
		header                  http.Header
		own                     bool // writeRequest's own path
	}{
		{"send", "POST", send, `{"target":"t","arguments":[1]}`, common, true},
		{"post without body", "POST", "http://svc.example/api/hubs/chat/groups/g/users/u?api-version=2022-06-01", "", common, true},
		{"get", "GET", "http://[::1]:8080/api/hubs/chat/connections/c%2Fd?api-version=2022-06-01", "", common, true},
		{"delete", "DELETE", "https://svc.example/api/hubs/chat/users/a%20b/groups?api-version=2022-06-01&filter=x+eq+%27y%27", "", common, true},
		{"head", "HEAD", "http://svc.example/api/health", "", http.Header{}, true},
		{"no user agent", "GET", "http://svc.example/api/health", "", http.Header{"X-A": {"1", "2"}}, true},
		{"empty user agent", "GET", "http://svc.example/api/health", "", http.Header{"User-Agent": {""}, "X-Empty": {""}}, true},
		{"padded value", "GET", "http://svc.example/api/health", "", http.Header{"X-Pad": {"  v \t"}}, true},
		{"content-length in the header", "POST", send, "12345", http.Header{"Content-Length": {"99"}, "Host": {"other"}}, true},
		{"newline in a value", "GET", "http://svc.example/", "", http.Header{"X-Bad": {"a\r\nX-Injected: 1"}}, false},
		{"bad name", "GET", "http://svc.example/", "", http.Header{"X Bad": {"1"}}, false},
		{"unicode host", "GET", "http://bücher.example/", "", http.Header{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if own := ownWritable(newReq(t, c.method, c.url, c.header, c.body)); own != c.own {
				t.Fatalf("written by writeRequest itself: %v, want %v", own, c.own)
			}
			ours := requestBytes(t, newReq(t, c.method, c.url, c.header, c.body))
			var ref bytes.Buffer
			if err := newReq(t, c.method, c.url, c.header, c.body).Write(&ref); err != nil {
				t.Fatal(err)
			}
			if !c.own {
				if !bytes.Equal(ours, ref.Bytes()) {
					t.Fatalf("a fallback wrote\n%q\nRequest.Write\n%q", ours, ref.Bytes())
				}
				return
			}
			got, want := parse(t, ours), parse(t, ref.Bytes())
			if got.method != want.method || got.uri != want.uri || got.host != want.host || got.body != want.body || got.length != want.length {
				t.Fatalf("read\n%+v\nwant\n%+v", got, want)
			}
			if !maps.EqualFunc(got.header, want.header, slices.Equal) {
				t.Fatalf("header\n%v\nwant\n%v", got.header, want.header)
			}
			if strings.Count(string(ours), "\r\n\r\n") != 1 || !strings.HasSuffix(string(ours), "\r\n\r\n"+c.body) {
				t.Fatalf("not one head then the body:\n%q", ours)
			}
		})
	}
}

// TestWriteRequestBodyShorterThanItsLength: a body that ends before its
// ContentLength is an error, as with Request.Write.
func TestWriteRequestBodyShorterThanItsLength(t *testing.T) {
	req := newReq(t, "POST", "http://svc.example/", nil, "abc")
	req.ContentLength = 5
	bw := bufio.NewWriter(io.Discard)
	if err := writeRequest(bw, req); err == nil || !strings.Contains(err.Error(), "ContentLength=5 with Body length 3") {
		t.Fatalf("err %v", err)
	}
}

// BenchmarkWriteRequest writes a send's request with writeRequest and
// with Request.Write.
func BenchmarkWriteRequest(b *testing.B) {
	h := http.Header{
		"User-Agent":      {"serverless-signalr-go/v0.1.0"},
		"Asrs-User-Agent": {"serverless-signalr-go/v0.1.0"},
		"Authorization":   {"Bearer " + strings.Repeat("x", 300)},
		"Content-Type":    {"application/json; charset=utf-8"},
	}
	body := []byte(`{"target":"newMessage","arguments":["hello from the benchmark, a chat-sized message"]}`)
	req, _ := http.NewRequest("POST", "http://127.0.0.1:8888/api/hubs/chat/:send?api-version=2022-06-01", nil)
	req.Header = h
	get := bodyOf(body, true)
	bw := bufio.NewWriterSize(io.Discard, h1BufferSize)
	for _, bc := range []struct {
		name  string
		write func(*http.Request) error
	}{
		{"own", func(r *http.Request) error { return writeRequest(bw, r) }},
		{"RequestWrite", func(r *http.Request) error { return r.Write(bw) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req.Body, _ = get()
				req.ContentLength = int64(len(body))
				if err := bc.write(req); err != nil {
					b.Fatal(err)
				}
				bw.Flush()
			}
		})
	}
}

// headsMatch reads raw as an answer to method with readPlainHead and with
// http.ReadResponse, and fails t when readPlainHead read it differently:
// status, protocol, header, length, Close, body, and what is left on the
// connection afterwards. When readPlainHead declines, it must have
// consumed nothing. It reports whether readPlainHead read the head.
func headsMatch(t *testing.T, raw []byte, method string) bool {
	t.Helper()
	req, _ := http.NewRequest(method, "http://svc.example/api/health", nil)
	br := bufio.NewReaderSize(bytes.NewReader(raw), h1BufferSize)
	br.Peek(1) // as readHead does
	got, ok := readPlainHead(br, req)
	if !ok {
		if rest, _ := io.ReadAll(br); !bytes.Equal(rest, raw) {
			t.Fatalf("declined %q but consumed %d bytes", raw, len(raw)-len(rest))
		}
		return false
	}
	rbr := bufio.NewReader(bytes.NewReader(raw))
	want, err := http.ReadResponse(rbr, req)
	if err != nil {
		t.Fatalf("read %q, which http.ReadResponse refuses: %v", raw, err)
	}
	if got.Status != want.Status || got.StatusCode != want.StatusCode || got.Proto != want.Proto ||
		got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor ||
		got.ContentLength != want.ContentLength || got.Close != want.Close || got.Request != req {
		t.Fatalf("%q: read %+v\nReadResponse %+v", raw, got, want)
	}
	if !maps.EqualFunc(got.Header, want.Header, slices.Equal) {
		t.Fatalf("%q: header %v\nReadResponse %v", raw, got.Header, want.Header)
	}
	if (got.Body == http.NoBody) != (want.Body == http.NoBody) {
		t.Fatalf("%q: no body %v, ReadResponse %v", raw, got.Body == http.NoBody, want.Body == http.NoBody)
	}
	gb, gerr := io.ReadAll(got.Body)
	wb, werr := io.ReadAll(want.Body)
	if !bytes.Equal(gb, wb) || (gerr == nil) != (werr == nil) || !errors.Is(gerr, werr) && gerr != nil {
		t.Fatalf("%q: body %q (%v), ReadResponse %q (%v)", raw, gb, gerr, wb, werr)
	}
	grest, _ := io.ReadAll(br)
	wrest, _ := io.ReadAll(rbr)
	if gerr == nil && !bytes.Equal(grest, wrest) {
		t.Fatalf("%q: left %q, ReadResponse left %q", raw, grest, wrest)
	}
	return true
}

// plainHeads are answers as the service and the emulator give them, and
// near misses.
var plainHeads = []struct {
	raw, method string
	plain       bool // read by readPlainHead itself
}{
	{"HTTP/1.1 202 Accepted\r\nVary: Origin\r\nDate: Tue, 01 Dec 2026 17:25:22 GMT\r\nContent-Length: 0\r\n\r\n", "POST", true},
	{"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 13\r\nConnection: keep-alive\r\nx-ms-request-id: abc\r\n\r\n{\"a\":\"b\"}   next", "GET", true},
	{"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-Empty:\r\nX-Pad: \t v \t\r\n\r\nnope!", "HEAD", true},
	{"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope!", "GET", true},
	{"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", "DELETE", true},
	{"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 2\r\n\r\n{}", "POST", true},
	{"HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", "POST", true},
	{"HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n", "POST", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "GET", true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "GET", false},
	{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "GET", false},
	{"HTTP/1.1 200 OK\r\n\r\nuntil the end", "GET", false},
	{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", "POST", false},
	{"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", "GET", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", "GET", false},
	{"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n", "GET", false},
	{"HTTP/1.1 200 OK\r\nFolded: a\r\n b\r\nContent-Length: 0\r\n\r\n", "GET", false},
	{"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "GET", false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", "GET", false},
	{"", "GET", false},
}

// TestReadPlainHeadReadsAsReadResponse: the answers readPlainHead reads
// itself, it reads as http.ReadResponse does; the others it leaves to it.
func TestReadPlainHeadReadsAsReadResponse(t *testing.T) {
	for _, c := range plainHeads {
		if got := headsMatch(t, []byte(c.raw), c.method); got != c.plain {
			t.Errorf("%q: read by readPlainHead %v, want %v", c.raw, got, c.plain)
		}
	}
}

// FuzzPlainHead: whatever the service sends, readPlainHead reads it as
// http.ReadResponse does or leaves it untouched.
func FuzzPlainHead(f *testing.F) {
	for _, c := range plainHeads {
		f.Add([]byte(c.raw), c.method == "HEAD")
	}
	f.Fuzz(func(t *testing.T, raw []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		headsMatch(t, raw, method)
	})
}

// BenchmarkReadHead reads the emulator's answer to a send with
// readPlainHead and with http.ReadResponse.
func BenchmarkReadHead(b *testing.B) {
	raw := []byte("HTTP/1.1 202 Accepted\r\nVary: Origin\r\nDate: Tue, 01 Dec 2026 17:25:22 GMT\r\nContent-Length: 0\r\n\r\n")
	req, _ := http.NewRequest("POST", "http://svc.example/", nil)
	r := bytes.NewReader(raw)
	br := bufio.NewReaderSize(r, h1BufferSize)
	for _, bc := range []struct {
		name string
		read func() (*http.Response, error)
	}{
		{"plain", func() (*http.Response, error) {
			br.Peek(1)
			resp, ok := readPlainHead(br, req)
			if !ok {
				return nil, errors.New("declined")
			}
			return resp, nil
		}},
		{"ReadResponse", func() (*http.Response, error) { return http.ReadResponse(br, req) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(raw)
				br.Reset(r)
				if _, err := bc.read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// failingConn is a connection whose reads fail with errs in turn, then
// end.
type failingConn struct {
	net.Conn
	errs []error
}

func (c *failingConn) Read([]byte) (int, error) {
	if len(c.errs) == 0 {
		return 0, io.EOF
	}
	err := c.errs[0]
	c.errs = c.errs[1:]
	return 0, err
}

// TestReadHeadReportsTheFirstReadsError: an answer's head that fails on
// its first read reports that error (a reset, not the end of file a
// second read would see), and an end of file as http.ReadResponse does.
func TestReadHeadReportsTheFirstReadsError(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://svc.example/", nil)
	for _, c := range []struct {
		errs []error
		want error
	}{
		{[]error{syscall.ECONNRESET}, syscall.ECONNRESET},
		{nil, io.ErrUnexpectedEOF},
	} {
		fc := &failingConn{errs: c.errs}
		pc := &h1Conn{Conn: fc, head: headLimit{r: fc, n: -1}}
		pc.br = bufio.NewReaderSize(&pc.head, h1BufferSize)
		if _, err := pc.readHead(req); !errors.Is(err, c.want) {
			t.Errorf("reads failing with %v: err %v, want %v", c.errs, err, c.want)
		}
	}
}
