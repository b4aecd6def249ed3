package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// store is the idempotency store: per command id, the hash of the command
// and, once known, its answer. A pending entry (Status 0) is a claim: the
// gateway that wrote it is producing the command and waiting for its
// result; it expires when that wait ends.
type store struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
	log    *slog.Logger

	mu         sync.Mutex
	lastWarn   time.Time
	suppressed int
}

// entry is a stored value; Body is base64 in JSON, so it comes back byte
// for byte.
type entry struct {
	Hash   string `json:"hash"`
	Status int    `json:"status,omitempty"` // 0: pending
	Body   []byte `json:"body,omitempty"`
}

// redisTimeout bounds each store call: a slow Redis must not hold a POST.
const redisTimeout = time.Second

// warnEvery rate-limits the WARN of a failing Redis.
const warnEvery = 30 * time.Second

func newStore(rdb redis.UniversalClient, ns string, ttl time.Duration, log *slog.Logger) *store {
	if rdb == nil {
		return nil
	}
	return &store{rdb: rdb, prefix: ns + ":gateway:command:", ttl: ttl, log: log}
}

func (s *store) key(commandID string) string { return s.prefix + commandID }

// claim writes a pending entry for commandID unless one exists. claimed
// reports whether this call wrote it; otherwise existing is the entry
// found (nil if it expired in between).
func (s *store) claim(ctx context.Context, commandID, hash string, ttl time.Duration) (claimed bool, existing *entry, err error) {
	v, err := json.Marshal(entry{Hash: hash})
	if err != nil {
		return false, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	ok, err := s.rdb.SetNX(ctx, s.key(commandID), v, ttl).Result()
	if err != nil {
		return false, nil, fmt.Errorf("claim command %s in the store: %w", commandID, err)
	}
	if ok {
		return true, nil, nil
	}
	e, err := s.get(ctx, commandID)
	return false, e, err
}

// get returns the entry of commandID, nil when there is none.
func (s *store) get(ctx context.Context, commandID string) (*entry, error) {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	raw, err := s.rdb.Get(ctx, s.key(commandID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read command %s from the store: %w", commandID, err)
	}
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("read command %s from the store: %w", commandID, err)
	}
	return &e, nil
}

// put stores the answer of commandID for the store's TTL.
func (s *store) put(ctx context.Context, commandID, hash string, a answer) error {
	v, err := json.Marshal(entry{Hash: hash, Status: a.status, Body: a.body})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := s.rdb.Set(ctx, s.key(commandID), v, s.ttl).Err(); err != nil {
		return fmt.Errorf("store the answer of command %s: %w", commandID, err)
	}
	return nil
}

// release deletes a pending claim that will not be answered (the send
// failed), so that a retry produces the command again.
func (s *store) release(ctx context.Context, commandID string) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := s.rdb.Del(ctx, s.key(commandID)).Err(); err != nil {
		return fmt.Errorf("release command %s in the store: %w", commandID, err)
	}
	return nil
}

// warn logs a store failure at most once per warnEvery, with the number
// of failures not logged since.
func (s *store) warn(err error) {
	s.mu.Lock()
	now := time.Now()
	if now.Sub(s.lastWarn) < warnEvery {
		s.suppressed++
		s.mu.Unlock()
		return
	}
	n := s.suppressed
	s.lastWarn, s.suppressed = now, 0
	s.mu.Unlock()
	s.log.Warn("gateway: idempotency store (Redis) failed; going on without it (a retried POST is produced again, the processor answers it as a duplicate)",
		"err", err, "failures_not_logged", n)
}
