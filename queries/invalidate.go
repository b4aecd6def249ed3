package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// receiveWait is how long the subscriber waits for a message before it
// pings the connection (a dead connection is found within about twice
// that, then replaced; L1 is dropped whenever that happens).
const receiveWait = 5 * time.Second

// Subscription is a running invalidation subscriber; Close stops it.
type Subscription struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	ps     *redis.PubSub // replaced when the connection is found dead
}

// Subscribe subscribes to the Redis sink's invalidation channel
// <ns>:invalidate and, until ctx ends or Close, drops the L1 entries of
// every organization a message names (InvalidateOrganization). It returns
// once the subscription is confirmed, having dropped all of L1 (changes
// before it were not heard). A message is a JSON array of changes, each an
// object holding the organization id in one of the configured
// OrganizationFields (sinks/redis, projections.CacheLayout); a message
// that does not parse drops all of L1. So does every lost connection: after
// receiveWait without a message the subscriber pings, and a ping not
// answered within another receiveWait (or any receive error) replaces the
// connection.
func (c *Cache) Subscribe(ctx context.Context) (*Subscription, error) {
	ps := c.rdb.Subscribe(ctx)
	if err := ps.Subscribe(ctx, c.channel()); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("queries: subscribe %s: %w", c.channel(), err)
	}
	// The confirmation of the subscription.
	if _, err := ps.ReceiveTimeout(ctx, receiveWait); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("queries: subscribe %s: %w", c.channel(), err)
	}
	c.InvalidateAll()
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscription{ps: ps, cancel: cancel, done: make(chan struct{})}
	go c.listen(ctx, s)
	return s, nil
}

func (c *Cache) channel() string { return c.ns + ":invalidate" }

// Close stops the subscriber and waits for it.
func (s *Subscription) Close() error {
	s.cancel()
	s.mu.Lock()
	err := s.ps.Close()
	s.mu.Unlock()
	<-s.done
	return err
}

func (s *Subscription) current() *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps
}

// renew replaces the subscription's connection (the new one confirms its
// subscription as a message, which drops L1 again). False once closed.
func (c *Cache) renew(ctx context.Context, s *Subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	_ = s.ps.Close()
	s.ps = c.rdb.Subscribe(ctx, c.channel())
	return true
}

func (c *Cache) listen(ctx context.Context, s *Subscription) {
	defer close(s.done)
	pinged := false
	for ctx.Err() == nil {
		ps := s.current()
		msg, err := ps.ReceiveTimeout(ctx, receiveWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var nerr net.Error
			if !pinged && errors.As(err, &nerr) && nerr.Timeout() {
				// Quiet channel: check the connection is alive (the pong
				// comes back as a message).
				if err := ps.Ping(ctx); err == nil {
					pinged = true
					continue
				}
			}
			c.log.Warn("query cache: invalidation subscription lost; dropping L1 and subscribing again", "error", err)
			c.InvalidateAll()
			pinged = false
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			if !c.renew(ctx, s) {
				return
			}
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			c.applyInvalidation(m.Payload)
		case *redis.Subscription:
			// A (re)subscription: messages may have been lost.
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
