package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/queries/payments"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// TestRebuildSideBySideRedis rebuilds the Redis sink's keys side by side
// while `prism serve` answers reads by id from Redis and commands keep
// flowing through the processor and the live redis sink: no read fails,
// falls through to another source or sees other figures, the version
// pointer moves once (1 to 2), the keys of version 1 are gone, and once the
// flow is applied version 2 equals the expectation of every command (the
// live sink followed the pointer). A second rebuild with --keep-old moves
// the pointer to 3 and keeps version 2's keys.
func TestRebuildSideBySideRedis(t *testing.T) {
	e := newRebuildEnv(t, 3)
	ctx := testkit.Context(t, 3*time.Minute)
	e.startSinks("redis")
	e.produceCommands(ctx, e.commands(500, ""))
	e.waitSinks(time.Minute, "redis")
	live, ids := e.x.live(), e.livePaymentIDs(nil)
	flowing := e.commands(3000, flowOrg)
	srv := e.startServe("serve", serveTokens{"tok-all": "*"}, "--cache-ttl", "1ns")

	read := func(ctx context.Context, i int) error {
		id := ids[(i*7919)%len(ids)]
		st, h, body, err := httpGet(ctx, srv.client, srv.base+"/v1/payments/"+id, "tok-all")
		if err != nil {
			return err
		}
		var p payments.Payment
		w := live[id]
		if st != http.StatusOK || h.Get("X-Prism-Source") != payments.SourceRedis || json.Unmarshal(body, &p) != nil {
			return fmt.Errorf("GET /v1/payments/%s: %d source %q %s", id, st, h.Get("X-Prism-Source"), clipBody(body))
		}
		if p.AmountMinor != w.AmountMinor || p.Status != string(w.Status) || p.Version != w.Version {
			return fmt.Errorf("GET /v1/payments/%s: %s, want amount %d status %s version %d", id, clipBody(body), w.AmountMinor, w.Status, w.Version)
		}
		return nil
	}
	sample := func(ctx context.Context) (string, error) {
		v, err := e.redisVersion(ctx)
		return fmt.Sprint(v), err
	}

	release, wait := e.flow(ctx, flowing)
	rd := startReaders(ctx, 4, read, sample)
	time.Sleep(time.Second)
	e.mustRebuild(ctx, "redis", "--aggregate", "payments", "--side-by-side", "--execute")
	time.Sleep(time.Second)
	seen := rd.stop(t, "redis side by side")
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[1 2]" {
		t.Errorf("the version pointer was %v in turn, want 1 then 2", seen)
	}
	e.requireRedisDocs(ctx, 1, false)
	e.waitLag(2*time.Minute, "processor", "redis")
	e.waitEqual("redis version 2", 2*time.Minute, func(ctx context.Context) []string { return e.redisDiffAt(ctx, 2) })

	// --keep-old: version 3 serves, version 2's keys stay.
	e.mustRebuild(ctx, "redis", "--aggregate", "payments", "--side-by-side", "--keep-old", "--execute")
	if v, err := e.redisVersion(ctx); err != nil || v != 3 {
		t.Errorf("after the rebuild with --keep-old the version pointer is %d (%v), want 3", v, err)
	}
	e.requireRedisDocs(ctx, 2, true)
	if d := e.redisDiffAt(ctx, 3); len(d) > 0 {
		t.Errorf("redis version 3 after the rebuild with --keep-old:\n  %v", d)
	}
	srv.stop(t)
}

// redisVersion reads the version pointer (absent: 1).
func (e *rebuildEnv) redisVersion(ctx context.Context) (int, error) {
	v, err := e.rs.client.Get(ctx, e.rs.keys.Pointer()).Int()
	if errors.Is(err, goredis.Nil) {
		return 1, nil
	}
	return v, err
}

// redisDiffAt lists how version v's payment documents differ from e.x.
func (e *rebuildEnv) redisDiffAt(ctx context.Context, v int) []string {
	at := *e.rs
	at.keys = e.rs.keys.At(v)
	got, err := at.Payments(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	return sinktest.DiffPayments(e.x.live(), got, 10, sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt)
}

// requireRedisDocs fails unless version v holds payment documents (exist)
// or none.
func (e *rebuildEnv) requireRedisDocs(ctx context.Context, v int, exist bool) {
	e.t.Helper()
	var keys []string
	var cursor uint64
	for {
		batch, next, err := e.rs.client.Scan(ctx, cursor, e.rs.keys.At(v).Doc("")+"*", 1000).Result()
		if err != nil {
			e.t.Fatal(err)
		}
		keys = append(keys, batch...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	if (len(keys) > 0) != exist {
		e.t.Errorf("version %d of the redis keys: %d payment keys, want them present: %v", v, len(keys), exist)
	}
}
