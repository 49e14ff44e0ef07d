package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/customhandler"
)

// The Functions host (v4) adds to every call what a plain HTTP client does
// not send (reference: Azure/azure-functions-host DefaultHttpWorkerService,
// HttpRequestExtensions, ScriptInvocationContextExtensions): forwarded
// requests keep the caller's Host header and get X-Azure-Functions-HostVersion,
// X-Azure-Functions-InvocationId and "Azure-Functions-Host/<version>"
// appended to User-Agent; JSON-mode envelopes come chunked, with Params and
// Identities in Data.req and every non-object Metadata value encoded twice
// (numbers and booleans too).
const (
	hostVersion  = "4.1040.300.1"
	invocationID = "8c4bd7d0-49c4-4c39-9d2e-0f6a5c2a3b11"
	callerHost   = "myapp.azurewebsites.net"
	callerUA     = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Azure-Functions-Host/" + hostVersion
)

// hostAnswer is the handler's answer to a JSON-mode invocation of a function
// whose http output is named res.
type hostAnswer struct {
	Outputs struct {
		Res customhandler.HTTPOutput `json:"res"`
	}
}

// hostHeaders sets the headers the host adds on a forwarded request.
func hostHeaders(req *http.Request) {
	req.Host = callerHost
	req.Header.Set("User-Agent", callerUA)
	req.Header.Set("X-Azure-Functions-HostVersion", hostVersion)
	req.Header.Set("X-Azure-Functions-InvocationId", invocationID)
	req.Header.Set("X-Forwarded-For", "203.0.113.7:51234")
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
}

// TestForwardedAsTheHostSendsIt: negotiate and broadcast forwarded with the
// caller's Host header and the host's own headers.
func TestForwardedAsTheHostSendsIt(t *testing.T) {
	svc := startFakeService(t, false)
	p := startHandler(t, svc.connStr())

	req, _ := http.NewRequest("POST", p.base+"/api/negotiate?negotiateVersion=1&code=functionkey%3D%3D", nil)
	hostHeaders(req)
	req.Header.Set("Content-Length", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var neg struct{ URL, AccessToken string }
	decodeBody(t, resp, http.StatusOK, &neg)
	if !strings.HasPrefix(neg.URL, "http://127.0.0.1:") || neg.AccessToken == "" {
		t.Errorf("negotiate = %+v", neg)
	}

	req, _ = http.NewRequest("POST", p.base+"/api/broadcast?code=functionkey", strings.NewReader(`{"target":"t","arguments":[1]}`))
	hostHeaders(req)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("forwarded broadcast = %d %s", resp.StatusCode, b)
	}
}

// envelope is a JSON-mode invocation as the host serializes it for
// function fn with the caller's query, body and body properties.
func envelope(fn, query string, queryMap map[string]string, body string, bodyProps map[string]any) string {
	headers := map[string][]string{
		"Host":                           {callerHost},
		"User-Agent":                     {callerUA},
		"X-Azure-Functions-HostVersion":  {hostVersion},
		"X-Azure-Functions-InvocationId": {invocationID},
		"Content-Type":                   {"application/json; charset=utf-8"},
	}
	req := map[string]any{
		"Url":     "https://" + callerHost + "/api/" + fn + query,
		"Method":  "POST",
		"Query":   queryMap,
		"Headers": headers,
		"Params":  map[string]string{},
		"Identities": []any{map[string]any{
			"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true, "Actor": nil, "BootstrapContext": nil, "Label": nil, "Name": nil,
			"NameClaimType": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
			"RoleClaimType": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
			"Claims": []map[string]string{
				{"Type": "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", "Value": "Function"},
				{"Type": "http://schemas.microsoft.com/2017/07/functions/claims/keyid", "Value": "default"},
			},
		}},
	}
	if body != "" {
		req["Body"] = body
	}
	flat := map[string]string{}
	for k, vs := range headers {
		flat[k] = strings.Join(vs, ",")
	}
	meta := map[string]any{
		"Query":   queryMap,
		"Headers": flat,
		"sys":     map[string]string{"MethodName": fn, "UtcNow": "2026-12-01T10:00:00.000Z", "RandGuid": "f3c2b1a0-0000-4000-8000-000000000001"},
	}
	// One entry per query key except code and per top-level body property,
	// each non-object value encoded twice (JsonConvert.SerializeObject).
	for k, v := range queryMap {
		if k != "code" {
			b, _ := json.Marshal(v)
			meta[k] = string(b)
		}
	}
	for k, v := range bodyProps {
		b, _ := json.Marshal(v)
		meta[k] = string(b)
	}
	b, _ := json.Marshal(map[string]any{"Data": map[string]any{"req": req}, "Metadata": meta})
	return string(b)
}

// TestEnvelopeAsTheHostSendsIt: negotiate and broadcast in JSON mode, the
// envelope sent chunked (no Content-Length) as the host sends it, with the
// host's headers, Identities, empty Params and double-encoded Metadata
// (a string, a number and a boolean).
func TestEnvelopeAsTheHostSendsIt(t *testing.T) {
	svc := startFakeService(t, false)
	p := startHandler(t, svc.connStr())
	for _, tc := range []struct {
		fn, query string
		queryMap  map[string]string
		body      string
		props     map[string]any
		status    int
	}{
		{"negotiate", "?negotiateVersion=1&code=k", map[string]string{"negotiateVersion": "1", "code": "k"}, "", nil, 200},
		{"broadcast", "?code=k", map[string]string{"code": "k"}, `{"target":"t","arguments":["hi"],"count":4,"urgent":true}`,
			map[string]any{"target": "t", "count": 4, "urgent": true}, 202},
	} {
		env := envelope(tc.fn, tc.query, tc.queryMap, tc.body, tc.props)
		if tc.fn == "broadcast" && (!strings.Contains(env, `"count":"4"`) || !strings.Contains(env, `"urgent":"true"`) || !strings.Contains(env, `"target":"\"t\""`)) {
			t.Fatalf("the test envelope is not double-encoded: %s", env)
		}
		pr, pw := io.Pipe()
		go func() {
			io.WriteString(pw, env[:len(env)/2])
			io.WriteString(pw, env[len(env)/2:])
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", p.base+"/"+tc.fn, pr)
		req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("User-Agent", "Azure-Functions-Host/"+hostVersion)
		req.Header.Set("X-Azure-Functions-HostVersion", hostVersion)
		req.Header.Set("X-Azure-Functions-InvocationId", invocationID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out hostAnswer
		decodeBody(t, resp, http.StatusOK, &out)
		if out.Outputs.Res.StatusCode != tc.status {
			t.Errorf("%s envelope: Outputs.res = %d %s, want %d", tc.fn, out.Outputs.Res.StatusCode, out.Outputs.Res.Body, tc.status)
		}
	}
}
