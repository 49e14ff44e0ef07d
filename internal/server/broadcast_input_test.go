package server

import (
	"reflect"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

func TestReadBroadcastWholeAndStreamed(t *testing.T) {
	body := `[{"target":"t","arguments":["a"]},{"action":"add","userId":"u","groupName":"g"}]`
	whole, err := readBroadcast(strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := readBroadcast(strings.NewReader(body), -1) // chunked: no length
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(whole, streamed) || len(whole) != 2 || whole[1].route != "add" {
		t.Fatalf("whole %+v, streamed %+v", whole, streamed)
	}
	// A body shorter than its Content-Length is a failed read, not bad JSON.
	_, err = readBroadcast(strings.NewReader(body[:10]), int64(len(body)))
	if code := apperr.Code(err); code != apperr.CodeBodyIncomplete {
		t.Fatalf("short body: %v (%s), want %s", err, code, apperr.CodeBodyIncomplete)
	}
	// Invalid items get the streaming decoder's message naming the item.
	bad := `[{"target":"t"},{"action":"add","groupName":"g"}]`
	_, err = readBroadcast(strings.NewReader(bad), int64(len(bad)))
	if code := apperr.Code(err); code != apperr.CodeBroadcastMissingID || !strings.Contains(err.Error(), "item 1") {
		t.Fatalf("bad item: %v (%s)", err, code)
	}
}
