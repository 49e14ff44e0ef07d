package signalr

import (
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxHubNameLength is the longest hub name the service accepts.
const MaxHubNameLength = 128

// MaxGroupNameLength is the longest group name the service accepts, in
// UTF-16 code units as .NET counts string length.
const MaxGroupNameLength = 1024

// HubNameError reports an invalid hub name. Hub names start with an ASCII
// letter and contain only ASCII letters, digits and _`,.[] (at most 128
// characters).
type HubNameError struct {
	// Hub is the refused name, truncated to 140 bytes.
	Hub string
	// Reason says which part of the rule it breaks.
	Reason string
}

// Error names the hub and the rule.
func (e *HubNameError) Error() string {
	return "invalid hub name " + strconv.Quote(e.Hub) + ": " + e.Reason +
		" (hub names start with a letter and contain only letters, digits and _`,.[], at most 128 characters)"
}

// GroupNameError reports an invalid group name: empty, white space only, or
// longer than [MaxGroupNameLength].
type GroupNameError struct {
	// Length is the name's length in UTF-16 code units.
	Length int
	// Reason says which part of the rule it breaks.
	Reason string
}

// Error names the rule; it does not repeat the group name.
func (e *GroupNameError) Error() string {
	return "invalid group name: " + e.Reason + " (group names have 1 to 1024 characters and are not only white space)"
}

// ValidateHubName checks hub against the service's rule
// ^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$. The error is a *[HubNameError].
func ValidateHubName(hub string) error {
	if hub == "" {
		return &HubNameError{Reason: "it is empty"}
	}
	if len(hub) > MaxHubNameLength {
		return &HubNameError{Hub: truncateName(hub, 140), Reason: "it is longer than 128 characters"}
	}
	if c := hub[0]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return &HubNameError{Hub: hub, Reason: "it does not start with a letter"}
	}
	for i := 1; i < len(hub); i++ {
		if !hubChar[hub[i]] {
			r, _ := utf8.DecodeRuneInString(hub[i:])
			return &HubNameError{Hub: hub, Reason: "it contains " + strconv.QuoteRune(r) + " at byte " + strconv.Itoa(i)}
		}
	}
	return nil
}

// hubChar marks the bytes allowed after a hub name's first letter.
var hubChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "_`,.[]" {
		t[c] = true
	}
	return t
}()

// ValidateGroupName checks that group has 1 to [MaxGroupNameLength]
// characters and is not only white space. The error is a *[GroupNameError].
func ValidateGroupName(group string) error {
	n := 0
	blank := true
	for _, r := range group {
		n += utf16.RuneLen(r)
		if blank && !unicode.IsSpace(r) {
			blank = false
		}
	}
	switch {
	case n == 0:
		return &GroupNameError{Reason: "it is empty"}
	case n > MaxGroupNameLength:
		return &GroupNameError{Length: n, Reason: "it has " + strconv.Itoa(n) + " characters, more than 1024"}
	case blank:
		return &GroupNameError{Length: n, Reason: "it is only white space"}
	}
	return nil
}

// truncateName cuts s to at most n bytes on a rune boundary.
func truncateName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
