package customhandler_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/customhandler"
)

func decodeTrigger(t *testing.T, env string) (*customhandler.InvocationRequest, *customhandler.HTTPTrigger) {
	t.Helper()
	in, err := customhandler.DecodeInvocation(strings.NewReader(env), 0)
	if err != nil {
		t.Fatalf("DecodeInvocation: %v", err)
	}
	tr, err := in.HTTPTrigger("req")
	if err != nil {
		t.Fatalf("HTTPTrigger: %v", err)
	}
	return in, tr
}

func TestDecodeInvocationReferencePayload(t *testing.T) {
	in, tr := decodeTrigger(t, hostPayload)
	if tr.URL != "https://app.azurewebsites.net/api/broadcast?x=1" || tr.Method != "POST" || tr.Body != `{"text":"hi"}` {
		t.Errorf("trigger = %+v", tr)
	}
	if len(tr.Query) != 1 || tr.Query["x"] != "1" || len(tr.Params) != 1 || tr.Params["id"] != "42" {
		t.Errorf("query %v params %v", tr.Query, tr.Params)
	}
	if len(tr.Headers) != 2 || tr.Headers["X-MS-CLIENT-PRINCIPAL-ID"][0] != "abc" || tr.Headers["Content-Type"][0] != "application/json" {
		t.Errorf("headers %v", tr.Headers)
	}
	var id struct {
		AuthenticationType string
		IsAuthenticated    bool
	}
	if len(tr.Identities) != 1 || json.Unmarshal(tr.Identities[0], &id) != nil || id.AuthenticationType != "aad" || !id.IsAuthenticated {
		t.Errorf("identities %s", tr.Identities)
	}
	var sys struct{ MethodName string }
	if err := json.Unmarshal(in.Metadata["sys"], &sys); err != nil || sys.MethodName != "broadcast" {
		t.Errorf("Metadata.sys = %s (%v)", in.Metadata["sys"], err)
	}
}

func TestDecodeInvocationTolerance(t *testing.T) {
	for _, tc := range []struct{ name, env string }{
		{"whole envelope double-encoded", `"{\"Data\":{\"req\":{\"Method\":\"GET\"}}}"`},
		{"Data double-encoded", `{"Data":"{\"req\":{\"Method\":\"GET\"}}"}`},
		{"Method double-encoded", `{"Data":{"req":{"Method":"\"GET\""}}}`},
		{"mixed case keys", `{"DATA":{"Req":{"METHOD":"GET"}},"metadata":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, tr := decodeTrigger(t, tc.env)
			if tr.Method != "GET" || in.Data == nil || in.Metadata == nil {
				t.Errorf("trigger %+v, Data %v, Metadata %v", tr, in.Data, in.Metadata)
			}
		})
	}
	// Identities double-encoded, Url double-encoded.
	_, tr := decodeTrigger(t, `{"Data":{"req":{"Method":"GET","Url":"\"http://h/x\"","Identities":"[{\"a\":1}]"}}}`)
	if tr.URL != "http://h/x" || len(tr.Identities) != 1 || string(tr.Identities[0]) != `{"a":1}` {
		t.Errorf("trigger %+v", tr)
	}
	// Data and Metadata missing entirely: empty, not nil.
	in, err := customhandler.DecodeInvocation(strings.NewReader(`{}`), 0)
	if err != nil || in.Data == nil || in.Metadata == nil || len(in.Data) != 0 {
		t.Fatalf("%+v %v", in, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, env, want string }{
		{"Data not object", `{"Data":[1]}`, "customhandler: Data: must be a JSON object, got array"},
		{"Metadata not object", `{"Metadata":"x"}`, "customhandler: Metadata: must be a JSON object, got string"},
		{"trailing garbage", `{} x`, "customhandler: envelope: is not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := customhandler.DecodeInvocation(strings.NewReader(tc.env), 0)
			var de *customhandler.DecodeError
			if !errors.As(err, &de) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, req, want string }{
		{"null req", `null`, "customhandler: Data.req: must be a JSON object, got null"},
		{"method number", `{"Method":1}`, "customhandler: Data.req.Method: must be a string, got number"},
		{"url object", `{"Method":"GET","Url":{}}`, "customhandler: Data.req.Url: must be a string, got object"},
		{"query array", `{"Method":"GET","Query":[]}`, "customhandler: Data.req.Query: must be a JSON object, got array"},
		{"param nested array", `{"Method":"GET","Params":{"id":[[1]]}}`, "customhandler: Data.req.Params.id[0]: must be a string, got array"},
		{"header item object", `{"Method":"GET","Headers":{"Cookie":["a",{"s":"SECRET"}]}}`, "customhandler: Data.req.Headers.Cookie[1]: must be a string, got object"},
		{"weird header name quoted", `{"Method":"GET","Headers":{"a b":{}}}`, `customhandler: Data.req.Headers."a b": must be`},
		{"identities object", `{"Method":"GET","Identities":{}}`, "customhandler: Data.req.Identities: must be an array, got object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := customhandler.DecodeInvocation(strings.NewReader(`{"Data":{"req":`+tc.req+`}}`), 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = in.HTTPTrigger("req")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDecodeInvocationLimit(t *testing.T) {
	env := `{"Data":{}}`
	if _, err := customhandler.DecodeInvocation(strings.NewReader(env), int64(len(env))); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	_, err := customhandler.DecodeInvocation(strings.NewReader(env), int64(len(env)-1))
	if !errors.Is(err, customhandler.ErrBodyTooLarge) || err.Error() != "customhandler: body: is larger than 10 bytes" {
		t.Errorf("over the limit: %v", err)
	}
	_, err = customhandler.DecodeInvocation(io.MultiReader(strings.NewReader("{"), errReader{}), 0)
	if err == nil || !errors.Is(err, errBroken) {
		t.Errorf("read error: %v", err)
	}
}

var errBroken = errors.New("broken pipe")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestNewRequest(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	for _, tc := range []struct {
		name                          string
		tr                            customhandler.HTTPTrigger
		wantPath, wantQuery, wantHost string
		wantRequestURI                string
	}{
		{"absolute", customhandler.HTTPTrigger{Method: "GET", URL: "https://a.example/api/negotiate?hub=chat"}, "/api/negotiate", "hub=chat", "a.example", "/api/negotiate?hub=chat"},
		{"no url, host header", customhandler.HTTPTrigger{Method: "GET", Headers: map[string][]string{"host": {"h.example"}}}, "/", "", "h.example", "/"},
		{"double slash stays a path", customhandler.HTTPTrigger{Method: "GET", URL: "http://a//evil.example/x"}, "//evil.example/x", "", "a", "//evil.example/x"},
		{"escaped path kept", customhandler.HTTPTrigger{Method: "GET", URL: "http://a/api/x%2Fy"}, "/api/x/y", "", "a", "/api/x%2Fy"},
		{"relative path", customhandler.HTTPTrigger{Method: "GET", URL: "api/x%2F?a=1"}, "/api/x/", "a=1", "", "/api/x%2F?a=1"},
		{"host only", customhandler.HTTPTrigger{Method: "GET", URL: "http://a"}, "/", "", "a", "/"},
		{"relative url", customhandler.HTTPTrigger{Method: "GET", URL: "/api/negotiate", Query: map[string]string{"a b": "&"}}, "/api/negotiate", "a+b=%26", "", "/api/negotiate?a+b=%26"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.tr.NewRequest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.URL.Path != tc.wantPath || r.URL.RawQuery != tc.wantQuery || r.Host != tc.wantHost || r.RequestURI != tc.wantRequestURI {
				t.Errorf("path %q query %q host %q uri %q", r.URL.Path, r.URL.RawQuery, r.Host, r.RequestURI)
			}
			if r.URL.Scheme != "" || r.URL.Host != "" || r.Header.Get("Host") != "" {
				t.Errorf("URL %#v carries scheme/host, or Host header kept", r.URL)
			}
			if r.Context().Value(ctxKey{}) != "v" || r.Body != http.NoBody || r.ContentLength != 0 || r.Proto != "HTTP/1.1" {
				t.Errorf("ctx/body/proto wrong: %+v", r)
			}
		})
	}
	trig := &customhandler.HTTPTrigger{Method: "POST", Body: "abc",
		Headers: map[string][]string{"Transfer-Encoding": {"chunked"}, "content-length": {"0"}}}
	//lint:ignore SA1012 a nil ctx is documented to mean context.Background
	r, err := trig.NewRequest(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	if string(b) != "abc" || r.ContentLength != 3 || r.Header.Get("Content-Length") != "3" || r.Header.Get("Transfer-Encoding") != "" || r.Context() == nil {
		t.Errorf("body %q len %d header %v", b, r.ContentLength, r.Header)
	}
	for _, tr := range []customhandler.HTTPTrigger{{}, {Method: "G ET"}, {Method: "GET", URL: "mailto:x@y"}, {Method: "GET", URL: "http://[::1"}} {
		if _, err := tr.NewRequest(ctx); err == nil {
			t.Errorf("%+v: no error", tr)
		}
	}
}

type ctxKey struct{}
