package emulator_test

import (
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/emulator"
)

func TestNegotiateShape(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	n := e.negotiate("Chat", e.clientToken("chat", "alice"))
	if n.NegotiateVersion != 1 || n.ConnectionID == "" || n.ConnectionToken == "" || n.ConnectionID == n.ConnectionToken {
		t.Fatalf("negotiate = %+v", n)
	}
	if n.URL != nil || n.AccessToken != nil || n.UseStatefulReconnect != nil {
		t.Fatalf("negotiate must not carry url/accessToken/useStatefulReconnect: %+v", n)
	}
	if len(n.AvailableTransports) != 1 || n.AvailableTransports[0].Transport != "WebSockets" ||
		len(n.AvailableTransports[0].TransferFormats) != 2 ||
		n.AvailableTransports[0].TransferFormats[0] != "Text" || n.AvailableTransports[0].TransferFormats[1] != "Binary" {
		t.Fatalf("transports = %+v", n.AvailableTransports)
	}
}

func TestBroadcastHeaderAndQueryToken(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	node := e.connect("chat", "alice", false)
	browser := e.connect("chat", "bob", true)
	other := e.connect("otherhub", "carol", false)
	r := e.rest("POST", "/api/hubs/chat/:send", apiV, `{"target":"newMessage","arguments":[{"text":"hi"}]}`)
	if r.status != 202 {
		t.Fatalf("broadcast status %d body %s", r.status, r.body)
	}
	node.expectInvocation("newMessage", `{"text":"hi"}`)
	browser.expectInvocation("newMessage", `{"text":"hi"}`)
	other.expectNothing(200 * time.Millisecond)
}
