package server

import (
	"mime"
	"strings"
	"testing"
)

// FuzzIsJSONContentType: the Content-Type check of state-changing
// functions (untrusted header text) never panics, and accepts only
// application/json with at most a charset parameter.
func FuzzIsJSONContentType(f *testing.F) {
	for _, s := range []string{"application/json", "application/json; charset=utf-8", "text/plain", "", "application/json; boundary=x", "APPLICATION/JSON;CHARSET=\"utf-8\"", "application/json;", "application/problem+json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		if !isJSONContentType(ct) {
			return
		}
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			t.Fatalf("%q accepted: %q %v", ct, mt, err)
		}
		for k := range params {
			if !strings.EqualFold(k, "charset") {
				t.Fatalf("%q accepted with parameter %q", ct, k)
			}
		}
	})
}
