package signalr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/signalr"
)

func TestValidateHubName(t *testing.T) {
	tests := []struct {
		hub    string
		ok     bool
		reason string // substring of HubNameError.Reason when !ok
	}{
		{"chat", true, ""},
		{"Chat", true, ""},
		{"a", true, ""},
		{"Z9", true, ""},
		{"my_hub", true, ""},
		{"hub`1", true, ""},
		{"a,b.c[d]", true, ""},
		{"x" + strings.Repeat("y", 127), true, ""},
		{"", false, "empty"},
		{"x" + strings.Repeat("y", 128), false, "longer than 128"},
		{"1chat", false, "start with a letter"},
		{"_chat", false, "start with a letter"},
		{"[chat]", false, "start with a letter"},
		{"éclair", false, "start with a letter"},
		{"chat room", false, "' ' at byte 4"},
		{"chat-room", false, "'-' at byte 4"},
		{"chat/..", false, "'/' at byte 4"},
		{"chat?x=1", false, "'?'"},
		{"chat&hub=x", false, "'&'"},
		{"chat%20", false, "'%'"},
		{"cafè", false, "'è' at byte 3"},
		{"chat\x00", false, "at byte 4"},
		{"chat\n", false, "at byte 4"},
	}
	for _, tt := range tests {
		err := signalr.ValidateHubName(tt.hub)
		if tt.ok {
			if err != nil {
				t.Errorf("ValidateHubName(%q) = %v, want nil", tt.hub, err)
			}
			continue
		}
		var he *signalr.HubNameError
		if !errors.As(err, &he) {
			t.Errorf("ValidateHubName(%q) = %v (%T), want *HubNameError", tt.hub, err, err)
			continue
		}
		if !strings.Contains(he.Reason, tt.reason) {
			t.Errorf("ValidateHubName(%q).Reason = %q, want it to contain %q", tt.hub, he.Reason, tt.reason)
		}
		if !strings.Contains(err.Error(), "start with a letter and contain only letters, digits and _`,.[]") {
			t.Errorf("ValidateHubName(%q) error %q does not state the rule", tt.hub, err)
		}
		if len(he.Hub) > 140 {
			t.Errorf("ValidateHubName(%q) keeps %d bytes of the name", tt.hub[:10], len(he.Hub))
		}
	}
}

func TestValidateGroupName(t *testing.T) {
	tests := []struct {
		group  string
		ok     bool
		reason string
	}{
		{"g", true, ""},
		{"Group With Spaces", true, ""},
		{" padded ", true, ""},
		{"用户组", true, ""},
		{strings.Repeat("g", 1024), true, ""},
		{strings.Repeat("ü", 1024), true, ""}, // 1024 UTF-16 units, 2048 bytes
		{strings.Repeat("😀", 512), true, ""},  // 1024 UTF-16 units (surrogate pairs)
		{"", false, "empty"},
		{" ", false, "white space"},
		{" \t\r\n\u00a0\u3000", false, "white space"},
		{strings.Repeat("g", 1025), false, "1025 characters"},
		{strings.Repeat("😀", 513), false, "1026 characters"},
	}
	for _, tt := range tests {
		err := signalr.ValidateGroupName(tt.group)
		name := tt.group
		if len(name) > 20 {
			name = name[:20] + "…"
		}
		if tt.ok {
			if err != nil {
				t.Errorf("ValidateGroupName(%q) = %v, want nil", name, err)
			}
			continue
		}
		var ge *signalr.GroupNameError
		if !errors.As(err, &ge) {
			t.Errorf("ValidateGroupName(%q) = %v (%T), want *GroupNameError", name, err, err)
			continue
		}
		if !strings.Contains(ge.Reason, tt.reason) {
			t.Errorf("ValidateGroupName(%q).Reason = %q, want it to contain %q", name, ge.Reason, tt.reason)
		}
		if !strings.Contains(err.Error(), "1 to 1024 characters") {
			t.Errorf("ValidateGroupName(%q) error %q does not state the rule", name, err)
		}
	}
}
