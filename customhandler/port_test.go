package customhandler_test

import (
	"testing"

	"github.com/serverless-signalr/functions-go/customhandler"
)

func TestPort(t *testing.T) {
	for _, tc := range []struct {
		env      map[string]string
		port     string
		function bool
	}{
		{map[string]string{}, "7071", false},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "40123"}, "40123", true},
		{map[string]string{"FUNCTIONS_HTTPWORKER_PORT": "40124"}, "40124", true},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "40123", "FUNCTIONS_HTTPWORKER_PORT": "40124"}, "40123", true},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": " ", "FUNCTIONS_HTTPWORKER_PORT": "40124"}, "40124", true},
		{map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": ""}, "7071", false},
	} {
		getenv := func(k string) string { return tc.env[k] }
		if got := customhandler.Port(getenv); got != tc.port {
			t.Errorf("Port(%v) = %q, want %q", tc.env, got, tc.port)
		}
		if got := customhandler.IsFunctionsHost(getenv); got != tc.function {
			t.Errorf("IsFunctionsHost(%v) = %v, want %v", tc.env, got, tc.function)
		}
	}
}
