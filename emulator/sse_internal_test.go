package emulator

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// decodeEvents is a minimal event-stream reader (the WHATWG rules for data
// lines): it returns the data of each complete event.
func decodeEvents(stream []byte) []string {
	var events []string
	var data []string
	have := false
	s := string(stream)
	for s != "" {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			break // an unterminated line is not dispatched
		}
		line := s[:i]
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
		switch {
		case line == "":
			if have {
				events = append(events, strings.Join(data, "\n"))
			}
			data, have = nil, false
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			if field == "data" {
				data = append(data, strings.TrimPrefix(value, " "))
				have = true
			}
		}
	}
	return events
}

func TestAppendEvent(t *testing.T) {
	for _, tc := range []struct{ rec, wire string }{
		{"{}\x1e", "data: {}\x1e\n\n"},
		{"{\"a\":\n1}\x1e", "data: {\"a\":\ndata: 1}\x1e\n\n"},
		{"a\r\nb\rc\n\x1e", "data: a\ndata: b\ndata: c\ndata: \x1e\n\n"},
		{" lead\x1e", "data:  lead\x1e\n\n"},
	} {
		got := string(appendEvent(nil, []byte(tc.rec)))
		if got != tc.wire {
			t.Errorf("appendEvent(%q) = %q, want %q", tc.rec, got, tc.wire)
		}
		ev := decodeEvents([]byte(got))
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(tc.rec)
		if len(ev) != 1 || ev[0] != want {
			t.Errorf("decoded %q, want [%q]", ev, want)
		}
	}
}

// FuzzAppendEvent: any record becomes exactly one event whose data is the
// record with CRLF and CR turned into LF, as EventSource delivers it.
func FuzzAppendEvent(f *testing.F) {
	f.Add([]byte("{\"type\":1,\"target\":\"m\",\"arguments\":[1]}\x1e"))
	f.Add([]byte("a\r\n\r\nb\r"))
	f.Add([]byte("\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		wire := appendEvent([]byte("prefix"), rec)
		if !bytes.HasPrefix(wire, []byte("prefix")) || !bytes.HasSuffix(wire, []byte("\n\n")) {
			t.Fatalf("wire %q", wire)
		}
		ev := decodeEvents(wire[len("prefix"):])
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(rec))
		if len(ev) != 1 || ev[0] != want {
			t.Fatalf("record %q: decoded %q, want [%q]", rec, ev, want)
		}
	})
}

// FuzzAcceptsEventStream: the Accept header check never panics and finds
// text/event-stream wherever it is listed.
func FuzzAcceptsEventStream(f *testing.F) {
	f.Add("text/event-stream")
	f.Add("text/html, text/event-stream;q=0.9")
	f.Add("*/*")
	f.Add(";;,,")
	f.Fuzz(func(t *testing.T, accept string) {
		r, _ := http.NewRequest(http.MethodGet, "http://localhost/client/", nil)
		r.Header.Set("Accept", accept)
		got := acceptsEventStream(r)
		r.Header.Set("Accept", accept+", text/event-stream")
		if !acceptsEventStream(r) {
			t.Fatalf("Accept %q plus text/event-stream not recognised", accept)
		}
		if got && !strings.Contains(strings.ToLower(accept), "event-stream") {
			t.Fatalf("Accept %q recognised as an event stream", accept)
		}
	})
}
