package apperr_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/serverless-signalr/functions-go/internal/apperr"
)

func TestWriteShape(t *testing.T) {
	rec := httptest.NewRecorder()
	status := apperr.Write(rec, apperr.New(apperr.CodeNegotiateUnauthenticated, "no credentials", ""))
	if status != http.StatusUnauthorized || rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d/%d", status, rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var body map[string]map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	e := body["error"]
	info, _ := apperr.Lookup(apperr.CodeNegotiateUnauthenticated)
	if len(body) != 1 || len(e) != 3 || e["code"] != apperr.CodeNegotiateUnauthenticated || e["message"] != "no credentials" || e["hint"] != info.Fix {
		t.Errorf("body %s", rec.Body)
	}
}

func TestForeignErrorsBecomeGenericInternal(t *testing.T) {
	rec := httptest.NewRecorder()
	apperr.Write(rec, fmt.Errorf("db password=hunter2 failed"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "hunter2") || !strings.Contains(rec.Body.String(), `"internal"`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	wrapped := fmt.Errorf("outer: %w", apperr.New(apperr.CodeBroadcastEmpty, "m", "h"))
	if apperr.Code(wrapped) != apperr.CodeBroadcastEmpty || apperr.As(wrapped).Hint != "h" {
		t.Errorf("wrapped code %q", apperr.Code(wrapped))
	}
	cause := errors.New("cause")
	if e := apperr.Wrap(cause, apperr.CodeServiceError, "m"); !errors.Is(e, cause) {
		t.Error("Wrap loses the cause")
	}
}

// TestRegistry: codes are unique, dotted, client codes have a 4xx/5xx
// status and never 500 for a client mistake, and everything has a cause
// and a fix.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range apperr.All() {
		if seen[i.Code] {
			t.Errorf("duplicate code %s", i.Code)
		}
		seen[i.Code] = true
		if i.Code != apperr.CodeInternal && !strings.Contains(i.Code, ".") {
			t.Errorf("code %s is not dotted", i.Code)
		}
		if i.Cause == "" || i.Fix == "" {
			t.Errorf("code %s lacks cause or fix", i.Code)
		}
		// Status 0 marks findings that never reach a client (startup and
		// doctor); every client-facing code has a 4xx/5xx status, and a
		// client mistake is never a 500.
		switch {
		case strings.HasPrefix(i.Code, "config."):
			if i.Status != 0 {
				t.Errorf("config code %s has a client status", i.Code)
			}
		case i.Code == apperr.CodeInternal || i.Status == 0:
		case i.Status < 400 || i.Status == 500:
			t.Errorf("code %s has status %d", i.Code, i.Status)
		}
		for _, p := range []string{"request.", "cors.", "negotiate.", "auth.", "broadcast."} {
			if strings.HasPrefix(i.Code, p) && i.Status == 0 {
				t.Errorf("client-facing code %s has no status", i.Code)
			}
		}
		if apperr.Status(i.Code) == 0 {
			t.Errorf("Status(%s) = 0", i.Code)
		}
	}
	if apperr.Status("no.such.code") != 500 {
		t.Error("unknown codes must be 500")
	}
}

// TestREADMEListsEveryCode keeps the README's error table complete.
func TestREADMEListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range apperr.All() {
		if !strings.Contains(string(b), "| `"+i.Code+"` |") {
			t.Errorf("README's error table lacks %s", i.Code)
		}
	}
}
