package testkit

import (
	"bytes"
	"sync"
)

// LogBuffer is a log destination (an io.Writer for slog handlers) safe for
// the goroutines of the component under test; String returns everything
// written so far.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
