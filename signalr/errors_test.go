package signalr

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseErrorBody(t *testing.T) {
	cases := []struct {
		body, code, msg string
	}{
		{`{"code":"Error.Connection.NotExisted","message":"Connection c1 does not exist.","target":null,"details":[],"inner":null}`, "Error.Connection.NotExisted", "Connection c1 does not exist."},
		{`{"code":42,"message":["x"]}`, "", ""},
		{`<html>\r\n<b>Bad   Gateway</b></html>`, "", `<html>\r\n<b>Bad Gateway</b></html>`},
		{"line1\nline2\t\x00end", "", "line1 line2 end"},
		{"", "", ""},
	}
	for _, tc := range cases {
		code, msg := parseErrorBody([]byte(tc.body))
		if code != tc.code || msg != tc.msg {
			t.Errorf("parseErrorBody(%q) = %q, %q; want %q, %q", tc.body, code, msg, tc.code, tc.msg)
		}
	}
	long := strings.Repeat("é", 1000)
	_, msg := parseErrorBody([]byte(long))
	if len(msg) > maxErrorMessage || !strings.HasSuffix(msg, "...") || !utf8.ValidString(msg) {
		t.Errorf("long message: len %d, valid %v", len(msg), utf8.ValidString(msg))
	}
}

func FuzzParseErrorBody(f *testing.F) {
	f.Add([]byte(`{"code":"Warning.Connection.NotExisted","message":"not there"}`))
	f.Add([]byte(`{"code":"x","message":"` + strings.Repeat("a\\n", 400) + `"}`))
	f.Add([]byte("\xff\xfe plain \x1b[31m text"))
	f.Add([]byte(`{"message":null,"inner":{"code":"deep"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := parseErrorBody(body)
		for _, s := range []string{code, msg} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
			if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
				t.Fatalf("control character in %q", s)
			}
			if s != strings.TrimSpace(s) {
				t.Fatalf("untrimmed %q", s)
			}
		}
		if len(code) > 128 || len(msg) > maxErrorMessage {
			t.Fatalf("too long: code %d, message %d", len(code), len(msg))
		}
	})
}

func TestEscapeDataString(t *testing.T) {
	cases := map[string]string{
		"":              "",
		"abcXYZ019-._~": "abcXYZ019-._~",
		"a/b c":         "a%2Fb%20c",
		":@&=+$,;?#[]!": "%3A%40%26%3D%2B%24%2C%3B%3F%23%5B%5D%21",
		"%":             "%25",
		"é":             "%C3%A9",
		"\x00\xff":      "%00%FF",
		// moved from the doctor, whose copy is gone
		"a.b_c~d-e`f,g[h]/ i": "a.b_c~d-e%60f%2Cg%5Bh%5D%2F%20i",
	}
	for in, want := range cases {
		if got := escapeDataString(in); got != want {
			t.Errorf("escapeDataString(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzEscapeDataString(f *testing.F) {
	f.Add("a/b c")
	f.Add("ü:@%2F")
	f.Fuzz(func(t *testing.T, s string) {
		e := escapeDataString(s)
		for i := 0; i < len(e); i++ {
			if c := e[i]; !unreserved(c) && c != '%' {
				t.Fatalf("%q escapes to %q with a raw %q", s, e, c)
			}
		}
		back, err := url.PathUnescape(e)
		if err != nil || back != s {
			t.Fatalf("round trip of %q: %q, %v", s, back, err)
		}
	})
}
