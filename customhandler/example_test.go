package customhandler_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/serverless-signalr/functions-go/customhandler"
)

// The app's logic is one http.Handler. It is mounted at the forwarded path
// (/api/negotiate) and, through Handler, at the JSON-mode path (/negotiate),
// so the function works whichever way the host calls it.
func ExampleHandler() {
	negotiate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customhandler.Log(r.Context(), "negotiate for hub "+r.URL.Query().Get("hub"))
		if r.Header.Get("X-MS-CLIENT-PRINCIPAL-ID") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"sign in first"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"url":"https://x.service.signalr.net/client/?hub=chat","accessToken":"..."}`)
	})

	mux := http.NewServeMux()
	mux.Handle("/api/negotiate", negotiate) // enableForwardingHttpRequest
	mux.Handle("POST /negotiate", customhandler.Handler(negotiate, customhandler.Options{
		Logger: slog.New(slog.DiscardHandler),
	}))
	srv := httptest.NewServer(mux) // in production: listen on 127.0.0.1:customhandler.Port(os.Getenv)
	defer srv.Close()

	// What the Functions host POSTs for an anonymous caller.
	envelope := `{"Data":{"req":{"Url":"https://app.azurewebsites.net/api/negotiate?hub=chat","Method":"POST",` +
		`"Query":{"hub":"chat"},"Headers":{"Content-Type":["application/json"]}}},"Metadata":{}}`
	resp, err := http.Post(srv.URL+"/negotiate", "application/json", strings.NewReader(envelope))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	fmt.Println(string(body))
	// Output:
	// 200 application/json
	// {"Outputs":{"res":{"statusCode":401,"headers":{"Content-Type":"application/json"},"body":"{\"error\":\"sign in first\"}"}},"Logs":["negotiate for hub chat"],"ReturnValue":null}
}

// Port and IsFunctionsHost read the environment the host gives the process.
func ExamplePort() {
	env := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "40123"}
	getenv := func(k string) string { return env[k] }
	fmt.Println(customhandler.Port(getenv), customhandler.IsFunctionsHost(getenv))
	fmt.Println(customhandler.Port(func(string) string { return "" }))
	// Output:
	// 40123 true
	// 7071
}
