package server

import (
	"encoding/json"
	"testing"
)

func TestSummaryJSONMatchesEncodingJSON(t *testing.T) {
	two := 2
	odd := []string{"", "plain", `q"uote\back`, "ctl\x00\x01\x1f\n\r\t\b\f", "<html>&amp;", "é 用户 😀", "\u2028\u2029", "bad \xff utf8 \xc3", "\x7f del"}
	var items []itemResult
	for i, s := range odd {
		items = append(items, itemResult{Index: i, Kind: "message", Route: s, Status: "sent"},
			itemResult{Index: i, Kind: s, Route: "all", Status: "failed", Endpoints: []endpointResult{{Name: s, Status: "failed", Code: "service.error", Error: s}, {Name: "b", Status: "ok"}}})
	}
	for _, r := range []broadcastResult{
		{Hub: "chat"},
		{Hub: "chat", Sent: 1, Items: []itemResult{{Index: 0, Kind: "message", Route: "all", Status: "sent", Endpoints: []endpointResult{{Name: "default", Status: "ok"}}}}},
		{Hub: "h<>", Sent: 3, Items: items, Stopped: &two},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON\n got %s\nwant %s", got, want)
		}
	}
}

func BenchmarkSummaryJSON(b *testing.B) {
	r := broadcastResult{Hub: "chat", Sent: 1, Items: []itemResult{{Index: 0, Kind: "message", Route: "all", Status: "sent", Endpoints: []endpointResult{{Name: "default", Status: "ok"}}}}}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = r.appendJSON(buf[:0])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(r)
		}
	})
}
