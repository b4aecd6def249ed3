// Package pgtest holds the test setup shared by the Postgres sinks' tests
// and benchmarks: a real Postgres, a schema unique to the test, a pool on
// it; and a live sink writing while a rebuild switches its tables.
package pgtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
	"github.com/prism-cqrs/prism/topology"
)

// Schema returns the Postgres URL, a schema name unique to tb (not
// created: the sink's Setup does that) and a pool on that Postgres. At
// cleanup the schema is dropped (errors ignored) and the pool closed.
// Without a Postgres it fails or skips as testkit.PostgresURL does; a
// pool that cannot be configured fails tb.
func Schema(tb testing.TB) (url, schema string, pool *pgxpool.Pool) {
	tb.Helper()
	url = testkit.PostgresURL(tb)
	schema = topology.NewNames(testkit.Namespace(tb)).PostgresSchema()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgstore.Ident(schema)+` CASCADE`)
		pool.Close()
	})
	return url, schema, pool
}

// WaitFor polls cond until it holds, failing tb after 30 s.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// LiveSink is a running sink's target writing the rest of a stream in
// batches of 10 in the background while a rebuild switches its tables:
// ten batches (then Started closes), then it waits until the switch holds
// the sink's lock (CatchingUp, called from Switch.CatchUp) or has returned
// (Switched), and writes the rest: its next batch waits on the lock, every
// later one lands after the switch. Done closes when it stops; Err is
// then the write error, if any.
type LiveSink struct {
	Started, Done      chan struct{}
	catching, switched chan struct{}
	catchOnce, swOnce  sync.Once
	Err                error
}

// RunLiveSink starts writing rest through tg (topic).
func RunLiveSink(ctx context.Context, tg sinks.Target, topic string, rest []sinks.Event) *LiveSink {
	l := &LiveSink{Started: make(chan struct{}), Done: make(chan struct{}), catching: make(chan struct{}), switched: make(chan struct{})}
	go func() {
		defer close(l.Done)
		started := false
		defer func() {
			if !started {
				close(l.Started)
			}
		}()
		for i := 0; len(rest) > 0; i++ {
			if i == 10 {
				started = true
				close(l.Started)
				select {
				case <-l.catching:
				case <-l.switched:
				}
			}
			b := rest[:min(10, len(rest))]
			rest = rest[len(b):]
			if _, err := tg.Write(ctx, topic, b); err != nil {
				l.Err = err
				return
			}
		}
	}()
	return l
}

// CatchingUp tells the live sink the switch holds the sink's lock.
func (l *LiveSink) CatchingUp() { l.catchOnce.Do(func() { close(l.catching) }) }

// Switched tells the live sink the switch has returned.
func (l *LiveSink) Switched() { l.swOnce.Do(func() { close(l.switched) }) }
