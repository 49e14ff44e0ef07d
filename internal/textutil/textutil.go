// Package textutil holds the one copy of the text helpers the SDK, the
// handler and the doctor share: cleaning untrusted text before it reaches
// a log line or an error message, cutting text on a rune boundary, and
// telling an HTTP token.
package textutil

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean makes untrusted text (a service's error message, a header, a body)
// safe to log and show: invalid UTF-8 and control characters become
// spaces, runs of white space collapse, the ends are trimmed, and the
// result is cut to at most max bytes on a rune boundary (the cut marked
// with "...").
func Clean(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() > max {
			break
		}
	}
	out := b.String()
	if len(out) <= max {
		return out
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	if cut < 0 {
		cut = 0
	}
	return out[:cut] + "..."
}

// Truncate cuts s to at most n bytes on a rune boundary and marks a cut
// with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) { // never cut a character in two
		n--
	}
	return s[:n] + "…"
}

// AppendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it: quotes, backslashes and control characters, U+2028 and
// U+2029, each byte of invalid UTF-8 as U+FFFD, and with html also <, >
// and & (json.Marshal's default; an Encoder with SetEscapeHTML(false)
// writes them as they are).
func AppendJSONString(b []byte, s string, html bool) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || (c != '<' && c != '>' && c != '&')) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// IsToken reports whether s is an HTTP token (RFC 9110, section 5.6.2):
// one or more visible ASCII characters, none of them a delimiter
// (`"(),/:;<=>?@[\]{}`). Methods and header names are tokens.
func IsToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}
