package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

// chatGet serves path through the chat page mounted as routes.go mounts it.
func chatGet(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/chat", h))
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestChatPageServesPageAndScript(t *testing.T) {
	h := chatPageFrom(filepath.Join(t.TempDir(), "missing.js"))

	res, body := chatGet(t, h, "/chat/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /chat/: status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /chat/: Content-Type %q", ct)
	}
	for _, want := range []string{`<script src="signalr.min.js"></script>`, `<script src="chat.js"></script>`, `id="messages"`, `id="state"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}

	res, body = chatGet(t, h, "/chat/chat.js")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /chat/chat.js: status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("chat.js Content-Type %q", ct)
	}
	for _, want := range []string{`conn.invoke("sendMessage", text)`, `conn.invoke("sendToGroup", room, text)`, `conn.on("presence"`, `conn.on("newMessage"`, `new URL("/api", location.href)`, `.withUrl(apiBase)`} {
		if !strings.Contains(body, want) {
			t.Errorf("chat.js lacks %s", want)
		}
	}
}

func TestChatPageBundleFromDisk(t *testing.T) {
	p := filepath.Join(t.TempDir(), "signalr.min.js")
	const js = "var signalR = {};\n"
	if err := os.WriteFile(p, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	res, body := chatGet(t, chatPageFrom(p), "/chat/signalr.min.js")
	if res.StatusCode != http.StatusOK || body != js {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestChatPageMissingBundleExplains(t *testing.T) {
	p := filepath.Join(t.TempDir(), "node_modules", "signalr.min.js")
	res, body := chatGet(t, chatPageFrom(p), "/chat/signalr.min.js")
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", res.StatusCode)
	}
	var b apperr.Body
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if b.Error.Code != apperr.CodeRouteNotFound || !strings.Contains(b.Error.Message, "not installed") || !strings.Contains(b.Error.Hint, "make deps") {
		t.Errorf("error %+v", b.Error)
	}
}

func TestChatPageUnknownFile(t *testing.T) {
	res, body := chatGet(t, chatPageFrom("unused"), "/chat/index.go")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, apperr.CodeRouteNotFound) {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
}

func TestChatPageDefaultBundlePath(t *testing.T) {
	// The default path is the one scripts/install-deps.sh fills; from the
	// repository root it must exist once `make deps` ran.
	if !strings.HasPrefix(chatBundlePath, "e2e/node_modules/@microsoft/signalr/") {
		t.Fatalf("chatBundlePath %q", chatBundlePath)
	}
	if _, err := os.Stat(filepath.Join("../..", chatBundlePath)); err != nil {
		t.Skipf("bundle not installed (run make deps): %v", err)
	}
	res, _ := chatGet(t, chatPageFrom(filepath.Join("../..", chatBundlePath)), "/chat/signalr.min.js")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
}
