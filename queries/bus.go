package queries

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Handler answers a query. Handlers are safe for concurrent use.
type Handler func(ctx context.Context, q Query) (Answer, error)

// Middleware wraps a handler: it may answer itself (the cache), observe
// (metrics) or pass the query on to next.
type Middleware func(next Handler) Handler

// ErrUnknownQuery is returned (wrapped) for a query type without handler.
var ErrUnknownQuery = errors.New("queries: unknown query type")

// Bus routes each query to its type's handler through the middleware
// chain. The zero value is not usable: build it with NewBus.
type Bus struct {
	mw       []Middleware
	mu       sync.RWMutex
	handlers map[string]Handler
}

// NewBus returns a bus whose middleware chain is mw, the first the
// outermost: NewBus(metrics.Middleware(), cache.Middleware()) observes
// every query, cached or not.
func NewBus(mw ...Middleware) *Bus {
	return &Bus{mw: mw, handlers: map[string]Handler{}}
}

// Register sets the handler of a query type, wrapped in the bus's
// middleware. It fails for an invalid type, a nil handler or a type that
// already has one.
func (b *Bus) Register(queryType string, h Handler) error {
	if err := checkType(queryType); err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("queries: nil handler for %s", queryType)
	}
	for i := len(b.mw) - 1; i >= 0; i-- {
		h = b.mw[i](h)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.handlers[queryType]; ok {
		return fmt.Errorf("queries: query type %s already has a handler", queryType)
	}
	b.handlers[queryType] = h
	return nil
}

// Ask answers q with its type's handler, through the middleware.
func (b *Bus) Ask(ctx context.Context, q Query) (Answer, error) {
	b.mu.RLock()
	h, ok := b.handlers[q.Type]
	b.mu.RUnlock()
	if !ok {
		return Answer{}, fmt.Errorf("%w %q", ErrUnknownQuery, q.Type)
	}
	if !q.Scope.valid() {
		return Answer{}, fmt.Errorf("queries: query %s has no scope", q.Type)
	}
	return h(ctx, q)
}
