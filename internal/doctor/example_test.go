package doctor_test

import (
	"fmt"

	"github.com/serverless-signalr/functions-go/internal/doctor"
	"github.com/serverless-signalr/functions-go/signalr"
)

// At startup the handler explains a configuration error the way
// `handler doctor` prints it.
func ExampleExplain() {
	_, err := signalr.ParseConnectionString("Endpoint=https://contoso.service.signalr.net;Version=1.0;")
	f := doctor.Explain(err)
	fmt.Println(f.Status, f.Code, f.Details["key"])
	// Output: FAIL config.connection_string.missing_access_key AccessKey
}

func ExampleParseClaims() {
	claims, err := doctor.ParseClaims("role=admin,role=ops,name=Ada")
	fmt.Println(claims, err)
	// Output: [{role admin} {role ops} {name Ada}] <nil>
}
