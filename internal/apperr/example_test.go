package apperr_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

func ExampleWrite() {
	rec := httptest.NewRecorder()
	apperr.Write(rec, apperr.New(apperr.CodeNegotiateHubNotAllowed, `hub "admin" is not allowed`, ""))
	fmt.Println(rec.Code)
	fmt.Print(rec.Body.String())
	// Output:
	// 403
	// {"error":{"code":"negotiate.hub_not_allowed","message":"hub \"admin\" is not allowed","hint":"Add the hub to SIGNALR_ALLOWED_HUBS, or drop ?hub= to use the default hub."}}
}
