package customhandler_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/customhandler"
)

// FuzzDecodeInvocation feeds arbitrary envelopes through the whole decode
// path. It must never panic, errors must name a path, and a request it
// builds must carry the decoded method and body.
func FuzzDecodeInvocation(f *testing.F) {
	f.Add([]byte(hostPayload))
	f.Add([]byte(`{"data":{"req":"{\"method\":\"GET\",\"url\":\"http://h/api/negotiate\",\"query\":\"{}\"}"}}`))
	f.Add([]byte(`{"Data":{"req":{"Method":"POST","Headers":{"A":"[\"x\",\"y\"]","B":["z",1,null]},"Body":{"k":[1,2]}}}}`))
	f.Add([]byte(`{"Data":{"req":{"Method":"GET","Url":"http://a//b/%zz","Query":{"q":[1,"2"]}}}}`))
	f.Add([]byte(`"{\"Data\":null}"`))
	f.Add([]byte(`{"Data":{"req":null},"Metadata":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := customhandler.DecodeInvocation(bytes.NewReader(data), 1<<16)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "customhandler: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		tr, err := in.HTTPTrigger("req")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "customhandler: Data.") {
				t.Fatalf("error without path: %v", err)
			}
			return
		}
		if tr.Method == "" {
			t.Fatal("trigger decoded without a method")
		}
		r, err := tr.NewRequest(context.Background())
		if err != nil {
			return
		}
		if r.Method != tr.Method || r.URL == nil || !strings.HasPrefix(r.URL.Path, "/") || r.URL.Host != "" {
			t.Fatalf("request %s %#v from %+v", r.Method, r.URL, tr)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil || string(b) != tr.Body || r.ContentLength != int64(len(tr.Body)) {
			t.Fatalf("body %q (len %d), want %q", b, r.ContentLength, tr.Body)
		}
	})
}
