package server

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// FuzzDecodeBroadcast: any body either decodes into items that satisfy the
// routing rules, or fails with a 4xx apperr; it never panics. The one-pass
// decoder of whole bodies and the streaming decoder agree on every body.
func FuzzDecodeBroadcast(f *testing.F) {
	for _, s := range []string{
		`{"target":"newMessage","arguments":["hi"]}`,
		`[{"action":"add","userId":"u","groupName":"g"},{"target":"t","groupName":"g","excluded":["c1"]}]`,
		`{"action":"removeAll","connectionId":"c"}`,
		`{"Target":"t","Arguments":[1,2],"UserId":"u","ConnectionId":"c"}`,
		`{"action":"add","userId":"u","groupName":"g","ttl":30}`,
		`[]`, `{}`, `null`, `"x"`, `[1]`, `{"target":5}`, `{"target":"t","arguments":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := decodeBroadcast(body)
		streamed, serr := decodeBroadcastFrom(bytes.NewReader(body))
		if (err == nil) != (serr == nil) || err != nil && err.Error() != serr.Error() || !reflect.DeepEqual(items, streamed) {
			t.Fatalf("whole-body and streaming decoders disagree on %q:\n%+v %v\n%+v %v", body, items, err, streamed, serr)
		}
		if err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) {
				t.Fatalf("non-apperr error %T: %v", err, err)
			}
			if st := apperr.Status(e.Code); st < 400 || st >= 500 {
				t.Fatalf("client mistake answered %d (%s)", st, e.Code)
			}
			return
		}
		if len(items) == 0 || len(items) > maxBroadcastItems {
			t.Fatalf("%d items accepted", len(items))
		}
		for _, it := range items {
			switch it.kind {
			case kindMessage:
				if it.Target == "" || len(it.Arguments) == 0 || it.Arguments[0] != '[' {
					t.Fatalf("invalid message accepted: %+v", it)
				}
				want := "all"
				switch {
				case it.ConnectionID != "":
					want = "connection"
				case it.UserID != "":
					want = "user"
				case it.GroupName != "":
					want = "group"
				}
				if it.route != want {
					t.Fatalf("route %s, want %s", it.route, want)
				}
			case kindGroupAction:
				if it.ConnectionID == "" && it.UserID == "" {
					t.Fatalf("action without id accepted: %+v", it)
				}
				if it.route != "add" && it.route != "remove" && it.route != "removeAll" {
					t.Fatalf("route %q", it.route)
				}
			}
		}
	})
}
