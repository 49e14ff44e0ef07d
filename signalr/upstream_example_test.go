package signalr_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/serverless-signalr/functions-go/signalr"
)

// An upstream endpoint: parse and authenticate the service's call, answer an
// invocation with a result (a framed completion in the client's protocol)
// and everything else with 204.
func ExampleUpstreamValidator() {
	cs, _ := signalr.ParseConnectionString("Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;")
	v, _ := signalr.NewUpstreamValidator(signalr.UpstreamOptions{Endpoints: []*signalr.ConnectionString{cs}})
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := v.Parse(r)
		if err != nil {
			e := err.(*signalr.UpstreamError)
			http.Error(w, e.Message, e.Kind.HTTPStatus())
			return
		}
		if u.Target == "add" {
			var a, b int
			if u.DecodeArgument(0, &a) != nil || u.DecodeArgument(1, &b) != nil {
				signalr.WriteUpstreamError(w, u, "add takes two numbers")
				return
			}
			signalr.WriteUpstreamResult(w, u, a+b)
			return
		}
		signalr.WriteUpstreamResult(w, u, nil)
	})

	// What the service sends when a client calls invoke("add", 2, 3):
	r := httptest.NewRequest("POST", "/api/upstream", strings.NewReader(`{"type":1,"invocationId":"1","target":"add","arguments":[2,3]}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-ASRS-Connection-Id", "conn1")
	r.Header.Set("X-ASRS-Hub", "chat")
	r.Header.Set("X-ASRS-Category", "messages")
	r.Header.Set("X-ASRS-Event", "add")
	r.Header.Set("X-ASRS-Signature", signalr.UpstreamSignature("conn1", cs.AccessKey))
	w := httptest.NewRecorder()
	upstream.ServeHTTP(w, r)
	fmt.Printf("%d %q\n", w.Code, w.Body.String())
	// Output: 200 "{\"type\":3,\"invocationId\":\"1\",\"result\":5}\x1e"
}
