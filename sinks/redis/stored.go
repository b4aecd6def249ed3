package redis

import "sync"

// storedOffsets is the set of topic partitions whose offset key this target
// has read or written, so must find again; a missing one means Redis lost
// its data.
type storedOffsets struct {
	mu sync.Mutex
	m  map[string]map[int32]bool
}

func (s *storedOffsets) has(topic string, p int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[topic][p]
}

func (s *storedOffsets) add(topic string, ps []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]map[int32]bool{}
	}
	if s.m[topic] == nil {
		s.m[topic] = map[int32]bool{}
	}
	for _, p := range ps {
		s.m[topic][p] = true
	}
}

func (s *storedOffsets) remove(topic string, p int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m[topic], p)
}

func (s *storedOffsets) reset(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, topic)
}
