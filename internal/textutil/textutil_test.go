package textutil_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/serverless-signalr/functions-go/internal/textutil"
)

func TestClean(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"  a\n\tb\x00c  ", 100, "a b c"},
		{"bad\xffbyte", 100, "bad byte"},
		{strings.Repeat("x", 20), 10, "xxxxxxx..."},
		{"ééééé", 6, "é..."},
	}
	for _, tc := range cases {
		got := textutil.Clean(tc.in, tc.max)
		if got != tc.want || len(got) > tc.max || !utf8.ValidString(got) {
			t.Errorf("Clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := textutil.Truncate("héllo", 2); got != "h…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := textutil.Truncate("abc", 3); got != "abc" {
		t.Errorf("Truncate = %q", got)
	}
}

// TestIsToken: the 15 punctuation characters RFC 9110's tchar allows,
// letters and digits are a token; empty text, a delimiter, a space, a
// control character or a byte outside ASCII is not.
func TestIsToken(t *testing.T) {
	for _, s := range []string{"GET", "X-Ms-Request-Id", "content-length", "a", "!#$%&'*+-.^_`|~", "Az09"} {
		if !textutil.IsToken(s) {
			t.Errorf("IsToken(%q) = false", s)
		}
	}
	for _, s := range []string{"", "X Bad", "a:b", "a\tb", "a\x7f", "bücher", `"q"`, "(x)", "a/b", "[v]", "{}", "a\\b", "a@b", "a=b", "a,b", "a;b", "a?b", "<a>", "\x00"} {
		if textutil.IsToken(s) {
			t.Errorf("IsToken(%q) = true", s)
		}
	}
}
