package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// receiveWait is how long the subscriber waits for a message before it
// pings the connection (a dead connection is found within about twice
// that, then replaced; L1 is dropped whenever that happens).
const receiveWait = 5 * time.Second

// Subscription is a running invalidation subscriber; Close stops it.
type Subscription struct {
	ps     *redis.PubSub
	cancel context.CancelFunc
	done   chan struct{}
}

// Subscribe subscribes to the Redis sink's invalidation channel
// <ns>:invalidate and, until ctx ends or Close, drops the L1 entries of
// every organization a message names (InvalidateOrganization). It returns
// once the subscription is confirmed, having dropped all of L1 (changes
// before it were not heard). A message is a JSON array of changes, each an
// object holding the organization id in one of the configured
// OrganizationFields (sinks/redis, projections.CacheLayout); a message
// that does not parse drops all of L1. So does every reconnection.
func (c *Cache) Subscribe(ctx context.Context) (*Subscription, error) {
	ps := c.rdb.Subscribe(ctx)
	if err := ps.Subscribe(ctx, c.ns+":invalidate"); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("queries: subscribe %s:invalidate: %w", c.ns, err)
	}
	// The confirmation of the subscription.
	if _, err := ps.ReceiveTimeout(ctx, receiveWait); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("queries: subscribe %s:invalidate: %w", c.ns, err)
	}
	c.InvalidateAll()
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscription{ps: ps, cancel: cancel, done: make(chan struct{})}
	go c.listen(ctx, s)
	return s, nil
}

// Close stops the subscriber and waits for it.
func (s *Subscription) Close() error {
	s.cancel()
	err := s.ps.Close()
	<-s.done
	return err
}

func (c *Cache) listen(ctx context.Context, s *Subscription) {
	defer close(s.done)
	for ctx.Err() == nil {
		msg, err := s.ps.ReceiveTimeout(ctx, receiveWait)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				// Quiet channel: check the connection is alive (the pong
				// comes back as a message; a failed ping reconnects).
				if err := s.ps.Ping(ctx); err == nil {
					continue
				}
			}
			c.log.Warn("query cache: invalidation subscription interrupted; dropping L1", "error", err)
			c.InvalidateAll()
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Message:
			c.applyInvalidation(m.Payload)
		case *redis.Subscription:
			// A resubscription after a reconnect: messages may be lost.
			c.InvalidateAll()
		}
	}
}

// applyInvalidation drops the L1 entries of the organizations of one
// invalidation message.
func (c *Cache) applyInvalidation(payload string) {
	var changes []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &changes); err != nil {
		c.log.Warn("query cache: unreadable invalidation message; dropping L1", "error", err)
		c.InvalidateAll()
		return
	}
	for _, ch := range changes {
		found := false
		for _, f := range c.orgField {
			raw, ok := ch[f]
			if !ok {
				continue
			}
			var org string
			if err := json.Unmarshal(raw, &org); err == nil && org != "" {
				c.InvalidateOrganization(org)
				found = true
			}
		}
		if !found {
			c.log.Warn("query cache: invalidation without organization; dropping L1")
			c.InvalidateAll()
			return
		}
	}
}
