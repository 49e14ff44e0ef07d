package filter_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/serverless-signalr/functions-go/signalr/filter"
)

// FuzzParse feeds untrusted filter text (it arrives in the emulator's query
// string and the handler's broadcast body): Parse must not panic, every
// error must be a *SyntaxError with a position inside the input, and a
// filter that parses must print to text that parses to the same tree and
// selects the same connections.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"startswith(userId, 'listener-')",
		"'room1' in groups",
		"userId eq 'a' or userId eq 'b'",
		"not endswith(userId, 'bot')",
		"length(userId) gt 3",
		"userId in ('a','b')",
		"userId eq 'o''brien' and not ('g' in groups)",
		"substring(userId, -1, 2) eq null",
		"(((true)))",
		"not length(userId) gt 5",
		"userId eq 'unterminated",
	} {
		f.Add(s)
	}
	conns := []filter.Connection{
		{ConnectionID: "c1", UserID: "a", Groups: []string{"room1"}},
		{ConnectionID: "c2"},
		{ConnectionID: "o'b", UserID: "o'brien", Groups: []string{"g", "room1"}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := filter.Parse(s)
		if err != nil {
			var se *filter.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): error %T, want *SyntaxError", s, err)
			}
			if se.Pos < 0 || se.Pos > len(s) || se.Expected == "" || se.Found == "" {
				t.Fatalf("Parse(%q): bad error %+v", s, se)
			}
			return
		}
		q, err := filter.Parse(p.String())
		if err != nil {
			t.Fatalf("Parse(%q) printed %q which does not parse: %v", s, p.String(), err)
		}
		if !reflect.DeepEqual(p.Expr(), q.Expr()) {
			t.Fatalf("Parse(%q) printed %q which parses to another tree", s, p.String())
		}
		for _, c := range conns {
			if p.Match(c) != q.Match(c) {
				t.Fatalf("%q and its printing %q disagree on %+v", s, p.String(), c)
			}
		}
	})
}
