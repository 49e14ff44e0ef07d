// Package testutil holds the few helpers the module's tests share.
package testutil

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads: a
// child process's output copied by exec, or slog records written from
// several goroutines, read by the test while they arrive.
type SyncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed by the next Write; nil when nobody waits
}

// Write appends p and wakes every Await.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Await blocks until substr has been written or within has passed, and
// reports whether it was written. It waits on the writes themselves (each
// Write wakes it), so a test synchronises on the output it expects rather
// than on a guessed delay; within only bounds a test whose output never
// comes.
func (s *SyncBuffer) Await(substr string, within time.Duration) bool {
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		if bytes.Contains(s.b.Bytes(), []byte(substr)) {
			s.mu.Unlock()
			return true
		}
		if s.written == nil {
			s.written = make(chan struct{})
		}
		written := s.written
		s.mu.Unlock()
		select {
		case <-written:
		case <-timeout.C:
			return strings.Contains(s.String(), substr)
		}
	}
}
