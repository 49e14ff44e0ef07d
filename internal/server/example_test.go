package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/serverless-signalr/functions-go/internal/server"
)

// ExampleNew serves negotiate for the local emulator's connection string.
func ExampleNew() {
	cfg := server.Config{
		ConnectionString: "Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
		HubName:          "chat",
		TokenLifetime:    server.MaxTokenLifetime / 24,
		UserIDClaim:      "sub",
		AllowAnonymous:   true,
		LogLevel:         "info",
		RESTTimeout:      server.MinTokenLifetime / 6,
	}
	s, err := server.New(cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/negotiate?negotiateVersion=1", nil))
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), `"url":"http://localhost:8888/client/?hub=chat"`))
	// Output: 200 true
}
