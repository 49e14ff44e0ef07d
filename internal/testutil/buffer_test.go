package testutil

import (
	"io"
	"testing"
	"testing/synctest"
	"time"
)

// TestSyncBufferAwait: Await returns as soon as a later write completes
// the awaited text (also when it arrives split across writes), and
// reports false once its bound has passed without it.
func TestSyncBufferAwait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b SyncBuffer
		go func() {
			time.Sleep(time.Second)
			io.WriteString(&b, `{"msg":"liste`)
			time.Sleep(time.Second)
			io.WriteString(&b, `ning"}`)
		}()
		start := time.Now()
		if !b.Await(`"msg":"listening"`, time.Minute) {
			t.Fatalf("Await missed the text: %q", b.String())
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Await returned after %v, want when the second write ended it (2s)", d)
		}
		start = time.Now()
		if b.Await("never written", 5*time.Second) {
			t.Error("Await reported text that was never written")
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("Await gave up after %v, want its bound (5s)", d)
		}
	})
}
