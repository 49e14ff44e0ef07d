package customhandler_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/customhandler"
)

func TestSignalRTrigger(t *testing.T) {
	ctx := `{"Arguments":["hi",{"n":1}],"Error":null,"Category":"messages","Event":"sendMessage","Hub":"chat","ConnectionId":"c1","UserId":"ann",` +
		`"Headers":{"X-ASRS-Hub":"chat"},"Query":{"room":"1"},"Claims":{"role":"admin"}}`
	encoded := strings.NewReplacer(`"`, `\"`).Replace(ctx)
	for name, env := range map[string]string{
		"object":       `{"Data":{"invocation":` + ctx + `},"Metadata":{}}`,
		"json string":  `{"Data":{"invocation":"` + encoded + `"},"Metadata":{"sys":{}}}`,
		"other casing": `{"Data":{"Invocation":` + strings.ReplaceAll(ctx, `"ConnectionId"`, `"connectionId"`) + `}}`,
	} {
		t.Run(name, func(t *testing.T) {
			inv, err := customhandler.DecodeInvocation(strings.NewReader(env), 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, binding := range []string{"invocation", ""} {
				c, err := inv.SignalRTrigger(binding)
				if err != nil {
					t.Fatal(err)
				}
				if c.ConnectionID != "c1" || c.Hub != "chat" || c.Category != "messages" || c.Event != "sendMessage" || c.UserID != "ann" ||
					len(c.Arguments) != 2 || string(c.Arguments[1]) != `{"n":1}` || c.Claims["role"] != "admin" || c.Query["room"] != "1" {
					t.Fatalf("%+v", c)
				}
			}
		})
	}
	for name, env := range map[string]string{
		"http trigger only":  `{"Data":{"req":{"Method":"POST","Url":"http://x/api/a"}}}`,
		"no connection id":   `{"Data":{"invocation":{"Category":"messages","Event":"e","Hub":"chat"}}}`,
		"arguments object":   `{"Data":{"invocation":{"Category":"messages","Event":"e","Hub":"chat","ConnectionId":"c","Arguments":{}}}}`,
		"event not a string": `{"Data":{"invocation":{"Category":"messages","Event":1,"Hub":"chat","ConnectionId":"c"}}}`,
	} {
		inv, err := customhandler.DecodeInvocation(strings.NewReader(env), 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, err = inv.SignalRTrigger("")
		var de *customhandler.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%s: %v, want a DecodeError", name, err)
		}
	}
}
