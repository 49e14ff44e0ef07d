package emulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signalr/functions-go/emulator"
)

// wantRefusal checks that rec is exactly {"error":<the Default-mode text>}.
func wantRefusal(t *testing.T, transport string, rec []byte) {
	t.Helper()
	var resp map[string]any
	if err := json.Unmarshal(rec, &resp); err != nil {
		t.Fatalf("%s: handshake answer %q is not JSON: %v", transport, rec, err)
	}
	if len(resp) != 1 || resp["error"] != emulator.DefaultModeNoServerError {
		t.Fatalf("%s: handshake answer %q, want only error %q", transport, rec, emulator.DefaultModeNoServerError)
	}
}

// TestDefaultModeRefusesEveryHandshake: in Default mode without app
// servers negotiate works, and the handshake on every transport (even a
// valid JSON one) is answered with the service's exact error, then the
// connection ends. REST keeps working.
func TestDefaultModeRefusesEveryHandshake(t *testing.T) {
	e := newEnv(t, emulator.Options{ServiceMode: "Default"})
	const hs = `{"protocol":"json","version":1}` + "\x1e"

	t.Run("WebSockets", func(t *testing.T) {
		for _, viaQuery := range []bool{false, true} {
			tok := e.clientToken("chat", "u1")
			n := e.negotiate("chat", tok)
			if n.ConnectionToken == "" || len(n.AvailableTransports) != 3 {
				t.Fatalf("negotiate in default mode: %+v", n)
			}
			c := e.dial("chat", n.ConnectionToken, tok, viaQuery)
			c.send(hs)
			wantRefusal(t, "WebSockets", c.nextRaw(5*time.Second))
			if rec := c.nextRaw(2 * time.Second); rec != nil {
				t.Fatalf("record %q after the refused handshake; want the socket closed", rec)
			}
		}
	})
	t.Run("ServerSentEvents", func(t *testing.T) {
		tok := e.clientToken("chat", "u1")
		n := e.negotiate("chat", tok)
		c := e.openSSE("chat", n.ConnectionToken, tok)
		if r := c.post(hs); r.status != http.StatusOK {
			t.Fatalf("handshake POST: %d %s", r.status, r.body)
		}
		wantRefusal(t, "ServerSentEvents", c.nextRaw(5*time.Second))
		if !c.waitEnd(5 * time.Second) {
			t.Fatal("event stream did not end after the refused handshake")
		}
	})
	t.Run("LongPolling", func(t *testing.T) {
		tok := e.clientToken("chat", "u1")
		n := e.negotiate("chat", tok)
		c := e.openLongPolling("chat", n.ConnectionToken, tok)
		if r := c.post(hs); r.status != http.StatusOK {
			t.Fatalf("handshake POST: %d %s", r.status, r.body)
		}
		wantRefusal(t, "LongPolling", c.nextRaw(5*time.Second))
		if !c.waitEnd(5 * time.Second) {
			t.Fatal("polling did not end after the refused handshake")
		}
		if s := c.status(); s != http.StatusNoContent {
			t.Fatalf("last poll %d, want 204", s)
		}
	})

	// Nobody connected, but REST answers as on the real service.
	if r := e.rest(http.MethodPost, "/api/hubs/chat/:send", apiV, `{"target":"t","arguments":[1]}`); r.status != http.StatusAccepted {
		t.Fatalf("broadcast in default mode: %d %s", r.status, r.body)
	}
	if r := e.rest(http.MethodHead, "/api/hubs/chat/users/u1", apiV, ""); r.status != http.StatusNotFound {
		t.Fatalf("user exists in default mode: %d, want 404 (no client ever connected)", r.status)
	}
}

// TestServerlessModeIsTheDefault: the zero and explicit serverless modes
// accept the handshake.
func TestServerlessModeIsTheDefault(t *testing.T) {
	for _, mode := range []string{"", "serverless", "Serverless"} {
		e := newEnv(t, emulator.Options{ServiceMode: mode})
		c := e.connect("chat", "", false) // fails unless the answer is {}
		if c.id == "" {
			t.Fatalf("mode %q: no connection id", mode)
		}
	}
}

func TestParseServiceMode(t *testing.T) {
	for in, want := range map[string]string{"": "serverless", "serverless": "serverless", " SERVERLESS ": "serverless", "default": "default", "Default": "default"} {
		got, err := emulator.ParseServiceMode(in)
		if err != nil || got != want {
			t.Errorf("ParseServiceMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"classic", "server-less", "defaults"} {
		got, err := emulator.ParseServiceMode(in)
		if err == nil || got != "" || !strings.Contains(err.Error(), in) || !strings.Contains(err.Error(), `"serverless"`) || !strings.Contains(err.Error(), `"default"`) {
			t.Errorf("ParseServiceMode(%q) = %q, %v; want an error naming the value and the allowed modes", in, got, err)
		}
	}
}

func TestNewPanicsOnUnknownMode(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "classic") {
			t.Fatalf("recover() = %v, want a panic naming the mode", r)
		}
	}()
	emulator.New(emulator.Options{ServiceMode: "classic"})
}
