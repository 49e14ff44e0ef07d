// Package textutil holds the one copy of the text helpers the SDK, the
// handler and the doctor share: cleaning untrusted text before it reaches
// a log line or an error message, and cutting text on a rune boundary.
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
