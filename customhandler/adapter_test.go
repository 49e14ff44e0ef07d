package customhandler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/serverless-signalr/functions-go/customhandler"
)

// echoed is what echoHandler reports about the request it was given.
type echoed struct {
	Method        string      `json:"method"`
	Path          string      `json:"path"`
	RawQuery      string      `json:"rawQuery"`
	RequestURI    string      `json:"requestURI"`
	Host          string      `json:"host"`
	RemoteAddr    string      `json:"remoteAddr"`
	Header        http.Header `json:"header"`
	ContentLength int64       `json:"contentLength"`
	Body          string      `json:"body"`
}

// echoHandler answers with a JSON description of the request, the status
// given in ?status=, a multi-valued header, and one Log line.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if customhandler.Logging(r.Context()) { // the envelope tests expect the line
			customhandler.Log(r.Context(), "echo "+r.Method+" "+r.URL.Path)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		status := http.StatusOK
		if s := r.URL.Query().Get("status"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(echoed{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, RequestURI: r.RequestURI,
			Host: r.Host, RemoteAddr: r.RemoteAddr, Header: r.Header, ContentLength: r.ContentLength, Body: string(b),
		})
	})
}

// hostResult is the host's view of the handler's answer.
type hostResult struct {
	Status      int
	ContentType string
	Logs        []string
	Res         customhandler.HTTPOutput
	ReturnValue json.RawMessage
}

// newServer serves h through customhandler.Handler on loopback.
func newServer(t *testing.T, h http.Handler, opts customhandler.Options) *httptest.Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /negotiate", customhandler.Handler(h, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// post sends body to /negotiate the way the host does and decodes the
// answer strictly.
func post(t *testing.T, srv *httptest.Server, body io.Reader, hdr map[string]string) hostResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/negotiate", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Outputs     map[string]json.RawMessage
		Logs        []string
		ReturnValue json.RawMessage
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("host cannot decode %q: %v", raw, err)
	}
	if len(doc.Outputs) != 1 || doc.Outputs["res"] == nil {
		t.Fatalf("Outputs = %s, want exactly res", raw)
	}
	var res customhandler.HTTPOutput
	dec = json.NewDecoder(bytes.NewReader(doc.Outputs["res"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("Outputs.res %s: %v", doc.Outputs["res"], err)
	}
	if doc.Logs == nil {
		t.Fatalf("Logs is null in %s, want an array", raw)
	}
	return hostResult{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Logs: doc.Logs, Res: res, ReturnValue: doc.ReturnValue}
}

// postEcho posts envelope, checks the host-level invariants and decodes the
// echoed request.
func postEcho(t *testing.T, srv *httptest.Server, envelope string) (hostResult, echoed) {
	t.Helper()
	hr := post(t, srv, strings.NewReader(envelope), map[string]string{customhandler.HeaderInvocationID: "inv-1"})
	checkHost(t, hr)
	if got := hr.Res.Headers["Content-Type"]; got != "application/json" {
		t.Fatalf("res Content-Type = %q (body %q)", got, hr.Res.Body)
	}
	var e echoed
	if err := json.Unmarshal([]byte(hr.Res.Body), &e); err != nil {
		t.Fatalf("res body %q: %v", hr.Res.Body, err)
	}
	return hr, e
}

func checkHost(t *testing.T, hr hostResult) {
	t.Helper()
	if hr.Status != http.StatusOK {
		t.Errorf("host status = %d, want 200", hr.Status)
	}
	if hr.ContentType != "application/json" {
		t.Errorf("host Content-Type = %q, want application/json", hr.ContentType)
	}
	if string(hr.ReturnValue) != "null" {
		t.Errorf("ReturnValue = %s, want null", hr.ReturnValue)
	}
}

// hostPayload is the reference doc's httpTrigger example, single-encoded.
const hostPayload = `{"Data":{"req":{"Url":"https://app.azurewebsites.net/api/broadcast?x=1","Method":"POST",` +
	`"Query":{"x":"1"},"Headers":{"Content-Type":["application/json"],"X-MS-CLIENT-PRINCIPAL-ID":["abc"]},` +
	`"Params":{"id":"42"},"Identities":[{"AuthenticationType":"aad","IsAuthenticated":true,"Claims":[]}],` +
	`"Body":"{\"text\":\"hi\"}"}},"Metadata":{"sys":{"MethodName":"broadcast","UtcNow":"2025-01-01T00:00:00Z","RandGuid":"0f8fad5b-d9cb-469f-a165-70867728950e"}}}`

func TestHandlerSingleEncoded(t *testing.T) {
	srv := newServer(t, echoHandler(), customhandler.Options{})
	hr, e := postEcho(t, srv, hostPayload)
	checkBroadcast(t, hr, e)
}

func checkBroadcast(t *testing.T, hr hostResult, e echoed) {
	t.Helper()
	if hr.Res.StatusCode != 200 {
		t.Errorf("statusCode = %d", hr.Res.StatusCode)
	}
	if got := hr.Res.Headers["X-Multi"]; got != "a, b" {
		t.Errorf("X-Multi = %q, want %q", got, "a, b")
	}
	if len(hr.Res.Headers) != 2 {
		t.Errorf("res headers = %v, want Content-Type and X-Multi only", hr.Res.Headers)
	}
	want := echoed{Method: "POST", Path: "/api/broadcast", RawQuery: "x=1", RequestURI: "/api/broadcast?x=1",
		Host: "app.azurewebsites.net", ContentLength: 13, Body: `{"text":"hi"}`}
	if e.Method != want.Method || e.Path != want.Path || e.RawQuery != want.RawQuery || e.RequestURI != want.RequestURI ||
		e.Host != want.Host || e.ContentLength != want.ContentLength || e.Body != want.Body {
		t.Errorf("echoed %+v\nwant %+v", e, want)
	}
	if !strings.HasPrefix(e.RemoteAddr, "127.0.0.1:") {
		t.Errorf("RemoteAddr = %q, want the host's loopback address", e.RemoteAddr)
	}
	h := http.Header(e.Header)
	for k, v := range map[string]string{"Content-Type": "application/json", "X-Ms-Client-Principal-Id": "abc",
		"Content-Length": "13", customhandler.HeaderInvocationID: "inv-1"} {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if len(h) != 4 {
		t.Errorf("headers = %v, want 4", h)
	}
	if len(hr.Logs) != 1 || hr.Logs[0] != "echo POST /api/broadcast" {
		t.Errorf("Logs = %q", hr.Logs)
	}
}

func TestHandlerDoubleEncodedReq(t *testing.T) {
	var env struct {
		Data     map[string]json.RawMessage
		Metadata json.RawMessage
	}
	if err := json.Unmarshal([]byte(hostPayload), &env); err != nil {
		t.Fatal(err)
	}
	inner, _ := json.Marshal(string(env.Data["req"])) // the whole req object as a JSON string
	env.Data["req"] = inner
	b, _ := json.Marshal(env)
	if !bytes.Contains(b, []byte(`"req":"{`)) {
		t.Fatalf("test payload not double-encoded: %s", b)
	}
	srv := newServer(t, echoHandler(), customhandler.Options{})
	hr, e := postEcho(t, srv, string(b))
	checkBroadcast(t, hr, e)
}

func TestHandlerLowercaseKeys(t *testing.T) {
	env := `{"data":{"REQ":{"url":"http://localhost:7071/api/broadcast?x=1","method":"POST",` +
		`"headers":{"content-type":["application/json"],"x-ms-client-principal-id":"abc"},"body":"{\"text\":\"hi\"}"}},"metadata":{}}`
	srv := newServer(t, echoHandler(), customhandler.Options{})
	hr, e := postEcho(t, srv, env)
	if e.Host != "localhost:7071" {
		t.Errorf("Host = %q", e.Host)
	}
	e.Host = "app.azurewebsites.net"
	checkBroadcast(t, hr, e)
}

func TestHandlerQuery(t *testing.T) {
	srv := newServer(t, echoHandler(), customhandler.Options{})
	for _, tc := range []struct{ name, req, wantQuery string }{
		{"query as string {}", `{"Url":"http://h/api/negotiate","Method":"GET","Query":"{}"}`, ""},
		{"query as string object", `{"Url":"http://h/api/negotiate","Method":"GET","Query":"{\"hub\":\"chat\"}"}`, "hub=chat"},
		{"merged when Url lacks query", `{"Url":"http://h/api/negotiate","Method":"GET","Query":{"b":"2 3","a":1,"c":true,"d":null}}`, "a=1&b=2+3&c=true&d="},
		{"Url query wins", `{"Url":"http://h/api/negotiate?hub=x&hub=y","Method":"GET","Query":{"hub":"x,y"}}`, "hub=x&hub=y"},
		{"double-encoded value", `{"Url":"http://h/api/negotiate","Method":"GET","Query":{"hub":"\"chat\""}}`, "hub=chat"},
		{"array value", `{"Url":"http://h/api/negotiate","Method":"GET","Query":{"hub":["a","b"]}}`, "hub=a%2Cb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hr, e := postEcho(t, srv, `{"Data":{"req":`+tc.req+`}}`)
			if e.RawQuery != tc.wantQuery || e.Path != "/api/negotiate" || e.Method != "GET" {
				t.Errorf("got %s %s?%s, want GET /api/negotiate?%s", e.Method, e.Path, e.RawQuery, tc.wantQuery)
			}
			if hr.Res.StatusCode != 200 {
				t.Errorf("statusCode = %d", hr.Res.StatusCode)
			}
		})
	}
}

func TestHandlerHeaderShapes(t *testing.T) {
	srv := newServer(t, echoHandler(), customhandler.Options{})
	req := `{"Url":"http://h/api/negotiate","Method":"POST","Headers":{` +
		`"X-One":"v","X-Arr":["a","b"],"X-Str-Arr":"[\"c\",\"d\"]","X-Quoted":"\"q\"","X-Json":"{\"k\":1}",` +
		`"X-Num":5,"X-Null":null,"X-Mixed":["m",null,7],"Authorization":["Bearer tok"]}}`
	_, e := postEcho(t, srv, `{"Data":{"req":`+req+`}}`)
	h := http.Header(e.Header)
	want := map[string][]string{
		"X-One": {"v"}, "X-Arr": {"a", "b"}, "X-Str-Arr": {"c", "d"}, "X-Quoted": {"q"}, "X-Json": {`{"k":1}`},
		"X-Num": {"5"}, "X-Mixed": {"m", "7"}, "Authorization": {"Bearer tok"}, customhandler.HeaderInvocationID: {"inv-1"},
	}
	for k, v := range want {
		if got := h.Values(k); strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(h) != len(want) {
		t.Errorf("headers = %v, want %d entries", h, len(want))
	}
}

func TestHandlerBodyShapes(t *testing.T) {
	srv := newServer(t, echoHandler(), customhandler.Options{})
	for _, tc := range []struct{ name, body, want string }{
		{"absent", ``, ``},
		{"null", `,"Body":null`, ``},
		{"string", `,"Body":"plain text"`, `plain text`},
		{"json string literal", `,"Body":"\"quoted\""`, `"quoted"`},
		{"object", `,"Body":{"text":"hi","n":[1,2]}`, `{"text":"hi","n":[1,2]}`},
		{"array", `,"Body":[{"target":"t"}]`, `[{"target":"t"}]`},
		{"number", `,"Body":42`, `42`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e := postEcho(t, srv, `{"Data":{"req":{"Url":"http://h/api/broadcast","Method":"POST","Headers":{"Content-Length":["999"]}`+tc.body+`}}}`)
			if e.Body != tc.want || e.ContentLength != int64(len(tc.want)) {
				t.Errorf("body %q (len %d), want %q (len %d)", e.Body, e.ContentLength, tc.want, len(tc.want))
			}
			wantCL := ""
			if tc.want != "" {
				wantCL = strconv.Itoa(len(tc.want))
			}
			if got := http.Header(e.Header).Get("Content-Length"); got != wantCL {
				t.Errorf("Content-Length header = %q, want %q", got, wantCL)
			}
		})
	}
}

func TestHandlerCallerStatusCarried(t *testing.T) {
	srv := newServer(t, echoHandler(), customhandler.Options{})
	hr, e := postEcho(t, srv, `{"Data":{"req":{"Url":"http://h/api/negotiate?status=401","Method":"POST"}}}`)
	if hr.Res.StatusCode != http.StatusUnauthorized {
		t.Errorf("statusCode = %d, want 401", hr.Res.StatusCode)
	}
	if e.RawQuery != "status=401" {
		t.Errorf("query = %q", e.RawQuery)
	}
}

// errorBody is the error object of customhandler.WriteError.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// checkErrorOutput checks a res carrying a WriteError body.
func checkErrorOutput(t *testing.T, hr hostResult, status int, code string) errorBody {
	t.Helper()
	checkHost(t, hr)
	if hr.Res.StatusCode != status {
		t.Errorf("statusCode = %d, want %d", hr.Res.StatusCode, status)
	}
	if ct := hr.Res.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("res Content-Type = %q", ct)
	}
	var body struct {
		Error errorBody `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(hr.Res.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("res body %q: %v", hr.Res.Body, err)
	}
	if body.Error.Code != code || body.Error.Message == "" || body.Error.Hint == "" {
		t.Errorf("error body = %+v, want code %s with message and hint", body.Error, code)
	}
	if len(hr.Logs) != 0 {
		t.Errorf("Logs = %q, want none", hr.Logs)
	}
	return body.Error
}

func TestHandlerInvalidEnvelope(t *testing.T) {
	var logs bytes.Buffer
	srv := newServer(t, echoHandler(), customhandler.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, tc := range []struct{ name, env, wantMsg string }{
		{"not json", `not json`, "customhandler: envelope: is not valid JSON"},
		{"empty", ``, "customhandler: envelope: is empty"},
		{"array", `[]`, "customhandler: envelope: must be a JSON object, got array"},
		{"truncated", `{"Data":{"req":`, "customhandler: envelope: is not valid JSON"},
		{"no trigger", `{"Data":{"other":{}}}`, "customhandler: Data.req: is missing"},
		{"trigger not object", `{"Data":{"req":42}}`, "customhandler: Data.req: must be a JSON object, got number"},
		{"no method", `{"Data":{"req":{"Url":"http://h/x"}}}`, "customhandler: Data.req.Method: is missing"},
		{"bad method", `{"Data":{"req":{"Url":"http://h/x","Method":"GE T"}}}`, "customhandler: Data.req.Method: is not a valid HTTP method"},
		{"bad header", `{"Data":{"req":{"Method":"GET","Headers":{"Authorization":{"v":"Bearer SECRET-TOKEN"}}}}}`,
			"customhandler: Data.req.Headers.Authorization: must be a string or an array of strings, got object"},
		{"bad url", `{"Data":{"req":{"Method":"GET","Url":"http://h/%zz?code=SECRET-TOKEN"}}}`, "customhandler: Data.req.Url: is not a valid URL"},
		{"bad query", `{"Data":{"req":{"Method":"GET","Query":{"code":{"k":"SECRET-TOKEN"}}}}}`, "customhandler: Data.req.Query.code: must be a string, got object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			hr := post(t, srv, strings.NewReader(tc.env), nil)
			e := checkErrorOutput(t, hr, http.StatusBadRequest, customhandler.CodeInvalidEnvelope)
			if !strings.HasPrefix(e.Message, tc.wantMsg) {
				t.Errorf("message = %q, want prefix %q", e.Message, tc.wantMsg)
			}
			if !strings.Contains(e.Hint, `"req"`) || !strings.Contains(e.Hint, `"res"`) {
				t.Errorf("hint = %q, want the binding names", e.Hint)
			}
			if strings.Contains(hr.Res.Body, "SECRET") || strings.Contains(logs.String(), "SECRET") {
				t.Errorf("a header/query value leaked: body %q, log %q", hr.Res.Body, logs.String())
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), customhandler.CodeInvalidEnvelope) {
				t.Errorf("log = %q, want one WARN with the code", logs.String())
			}
		})
	}
}

func TestHandlerCustomBindingNames(t *testing.T) {
	srv := newServer(t, echoHandler(), customhandler.Options{Trigger: "request", Output: "response"})
	resp, err := srv.Client().Post(srv.URL+"/negotiate", "application/json",
		strings.NewReader(`{"Data":{"request":{"Url":"http://h/api/x?status=202","Method":"PUT"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Outputs map[string]customhandler.HTTPOutput
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	out, ok := doc.Outputs["response"]
	if !ok || len(doc.Outputs) != 1 || out.StatusCode != 202 || !strings.Contains(out.Body, `"method":"PUT"`) {
		t.Errorf("Outputs = %+v", doc.Outputs)
	}
}

func TestHandlerBodyTooLarge(t *testing.T) {
	const limit = 1024
	srv := newServer(t, echoHandler(), customhandler.Options{MaxBodyBytes: limit})
	big := `{"Data":{"req":{"Url":"http://h/api/broadcast","Method":"POST","Body":"` + strings.Repeat("x", 2*limit) + `"}}}`
	t.Run("content-length", func(t *testing.T) {
		hr := post(t, srv, strings.NewReader(big), nil)
		e := checkErrorOutput(t, hr, http.StatusRequestEntityTooLarge, customhandler.CodeBodyTooLarge)
		if !strings.Contains(e.Message, "1024") {
			t.Errorf("message = %q", e.Message)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		// io.MultiReader hides the length, so the client sends chunked, as the host does.
		hr := post(t, srv, io.MultiReader(strings.NewReader(big)), nil)
		checkErrorOutput(t, hr, http.StatusRequestEntityTooLarge, customhandler.CodeBodyTooLarge)
	})
	t.Run("just under", func(t *testing.T) {
		env := `{"Data":{"req":{"Url":"http://h/api/broadcast","Method":"POST","Body":"`
		env += strings.Repeat("y", limit-len(env)-len(`"}}}`)) + `"}}}`
		if len(env) != limit {
			t.Fatalf("len = %d", len(env))
		}
		_, e := postEcho(t, srv, env)
		if len(e.Body) != limit-len(`{"Data":{"req":{"Url":"http://h/api/broadcast","Method":"POST","Body":""}}}`) {
			t.Errorf("body len = %d", len(e.Body))
		}
	})
}

func TestHandlerInvocationID(t *testing.T) {
	srv := newServer(t, echoHandler(), customhandler.Options{})
	hr := post(t, srv, strings.NewReader(`{"Data":{"req":{"Url":"http://h/x","Method":"GET"}}}`),
		map[string]string{customhandler.HeaderInvocationID: "3f1c", customhandler.HeaderHostVersion: "4.1037.0"})
	var e echoed
	if err := json.Unmarshal([]byte(hr.Res.Body), &e); err != nil {
		t.Fatal(err)
	}
	if got := http.Header(e.Header).Get(customhandler.HeaderInvocationID); got != "3f1c" {
		t.Errorf("invocation id = %q", got)
	}
	if got := http.Header(e.Header).Get(customhandler.HeaderHostVersion); got != "4.1037.0" {
		t.Errorf("host version = %q", got)
	}
	// A caller's own header is not overwritten.
	hr = post(t, srv, strings.NewReader(`{"Data":{"req":{"Url":"http://h/x","Method":"GET","Headers":{"X-Azure-Functions-InvocationId":["caller"]}}}}`),
		map[string]string{customhandler.HeaderInvocationID: "3f1c"})
	e = echoed{}
	if err := json.Unmarshal([]byte(hr.Res.Body), &e); err != nil {
		t.Fatal(err)
	}
	if got := http.Header(e.Header).Values(customhandler.HeaderInvocationID); len(got) != 1 || got[0] != "caller" {
		t.Errorf("invocation id = %q, want the caller's", got)
	}
}

func TestHandlerLogs(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		for i := range 300 {
			wg.Go(func() { customhandler.Log(r.Context(), "line "+strconv.Itoa(i)) })
		}
		wg.Wait()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := newServer(t, h, customhandler.Options{})
	hr := post(t, srv, strings.NewReader(`{"Data":{"req":{"Url":"http://h/x","Method":"GET"}}}`), nil)
	checkHost(t, hr)
	if hr.Res.StatusCode != 204 || hr.Res.Body != "" || len(hr.Res.Headers) != 0 {
		t.Errorf("res = %+v", hr.Res)
	}
	if len(hr.Logs) != 257 || hr.Logs[256] != "customhandler: 44 more log lines dropped" {
		t.Errorf("got %d logs, last %q", len(hr.Logs), hr.Logs[len(hr.Logs)-1])
	}
	seen := map[string]bool{}
	for _, l := range hr.Logs[:256] {
		if !strings.HasPrefix(l, "line ") || seen[l] {
			t.Errorf("unexpected or repeated log line %q", l)
		}
		seen[l] = true
	}
}

func TestLogOutsideInvocation(t *testing.T) {
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() { customhandler.Log(ctx, "not in an invocation") })
	if allocs != 0 {
		t.Errorf("Log allocates %v times outside an invocation", allocs)
	}
	if customhandler.Logging(ctx) {
		t.Error("Logging is true outside an invocation")
	}
	//lint:ignore SA1012 a nil ctx must not panic
	customhandler.Log(nil, "nil context is ignored")
}

func TestHandlerPanic(t *testing.T) {
	var logs bytes.Buffer
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Partial", "1")
		panic("boom")
	})
	srv := newServer(t, h, customhandler.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	hr := post(t, srv, strings.NewReader(`{"Data":{"req":{"Url":"http://h/x","Method":"GET"}}}`), nil)
	checkErrorOutput(t, hr, http.StatusInternalServerError, customhandler.CodeInternal)
	if _, ok := hr.Res.Headers["X-Partial"]; ok {
		t.Errorf("headers of the panicking handler leaked: %v", hr.Res.Headers)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("log = %q", logs.String())
	}
}

func TestHandlerResponseWriterRules(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sniff":
			w.Write([]byte("<html><body>hi</body></html>"))
		case "/late-header":
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusTeapot) // ignored, as net/http does
			w.Header().Set("X-Late", "1")    // after WriteHeader: ignored
			w.Write([]byte("ok"))
		case "/content-length":
			w.Header().Set("Content-Length", "2")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("ok"))
		case "/nothing":
		}
	})
	srv := newServer(t, h, customhandler.Options{})
	for _, tc := range []struct {
		path, method string
		status       int
		headers      map[string]string
		body         string
	}{
		{"/sniff", "GET", 200, map[string]string{"Content-Type": "text/html; charset=utf-8"}, "<html><body>hi</body></html>"},
		{"/sniff", "HEAD", 200, map[string]string{"Content-Type": "text/html; charset=utf-8"}, ""},
		{"/late-header", "GET", 202, map[string]string{"Content-Type": "text/plain; charset=utf-8"}, "ok"},
		{"/content-length", "GET", 200, map[string]string{"Content-Type": "text/plain"}, "ok"},
		{"/nothing", "GET", 200, map[string]string{}, ""},
	} {
		hr := post(t, srv, strings.NewReader(`{"Data":{"req":{"Url":"http://h`+tc.path+`","Method":"`+tc.method+`"}}}`), nil)
		checkHost(t, hr)
		got, _ := json.Marshal(hr.Res)
		want, _ := json.Marshal(customhandler.HTTPOutput{StatusCode: tc.status, Headers: tc.headers, Body: tc.body})
		if !bytes.Equal(got, want) {
			t.Errorf("%s %s: res = %s, want %s", tc.method, tc.path, got, want)
		}
	}
}
