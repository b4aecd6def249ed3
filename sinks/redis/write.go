package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/schemas"
	"github.com/prism-cqrs/prism/sinks"
)

// chunk is one call of applyScript.
type chunk struct {
	keys   []string
	args   []any
	events int
}

// Write applies batch with an exactly-once effect (see applyScript): the
// chunks of at most Config.ChunkEvents events are sent as pipelined EVALSHA
// calls in one round trip, each chunk atomic and storing its own offsets.
//
// Events that cannot be represented (no state, an unknown currency, no id)
// are returned as rejected; their offsets still advance, so a restart does
// not reject them twice. On error some chunks may have been applied: the
// retried batch skips them by offset. Redis unreachable, timeouts and
// transient replies are wrapped in sinks.ErrTransient. A script cache
// emptied by a Redis restart is reloaded once, then the batch is re-sent.
func (t *Target) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	chunks, rejected := t.buildChunks(topic, batch)
	counts, err := t.run(ctx, chunks)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		if lerr := applyScript.Load(ctx, t.client).Err(); lerr != nil {
			return nil, classify("reload apply script", lerr)
		}
		counts, err = t.run(ctx, chunks)
	}
	if err != nil {
		return nil, classify(fmt.Sprintf("apply batch of %d events from %s", len(batch), topic), err)
	}
	t.log.Debug("batch applied", "topic", topic, "events", len(batch),
		"applied", counts[scriptApplied], "older", counts[scriptSkipped],
		"replayed", counts[scriptReplayed], "rejected", len(rejected))
	return rejected, nil
}

// run sends every chunk in one pipeline and sums the script's counters.
func (t *Target) run(ctx context.Context, chunks []chunk) ([3]int64, error) {
	var counts [3]int64
	pipe := t.client.Pipeline()
	cmds := make([]*goredis.Cmd, len(chunks))
	for i, c := range chunks {
		cmds[i] = applyScript.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return counts, err
	}
	for _, cmd := range cmds {
		res, err := cmd.Int64Slice()
		if err != nil {
			return counts, fmt.Errorf("read script result: %w", err)
		}
		for i := 0; i < len(res) && i < len(counts); i++ {
			counts[i] += res[i]
		}
	}
	return counts, nil
}

// buildChunks turns the batch into script calls and collects the events the
// target refuses for good.
func (t *Target) buildChunks(topic string, batch []sinks.Event) ([]chunk, []sinks.Rejected) {
	var (
		chunks   []chunk
		rejected []sinks.Rejected
		cur      *chunk
		parts    map[int32]int
		evArgs   []any
		evKeys   []string
	)
	flush := func() {
		if cur == nil {
			return
		}
		cur.args = append(cur.args, len(parts))
		cur.args = append(cur.args, evArgs...)
		cur.keys = append(cur.keys, evKeys...)
		chunks = append(chunks, *cur)
		cur = nil
	}
	for _, ev := range batch {
		if cur == nil || cur.events == t.cfg.ChunkEvents {
			flush()
			cur = &chunk{
				args: []any{int64(t.cfg.TTL.Seconds()), int64(t.cfg.MarkerTTL.Seconds()),
					t.cfg.RecentSize, t.keys.InvalidateChannel(), t.cfg.Names.RedisPrefix()},
			}
			parts = map[int32]int{}
			evArgs = evArgs[:0:0]
			evKeys = evKeys[:0:0]
		}
		pidx, ok := parts[ev.Partition]
		if !ok {
			pidx = len(parts) + 1
			parts[ev.Partition] = pidx
			cur.keys = append(cur.keys, t.keys.Offset(topic, ev.Partition))
		}
		op, reason := t.operation(ev)
		if reason != "" {
			rejected = append(rejected, sinks.Rejected{Event: ev, Reason: reason})
			op = operation{kind: kindSkip, id: ev.Key}
		}
		next := strconv.FormatInt(ev.Offset+1, 10)
		evArgs = append(evArgs, op.kind, pidx, next, strconv.FormatInt(op.version, 10),
			op.id, op.org, strconv.FormatInt(op.score, 10), op.doc)
		recent, cachever := "", ""
		if op.org != "" {
			recent, cachever = t.keys.Recent(op.org), t.keys.CacheVersion(op.org)
		}
		evKeys = append(evKeys, t.keys.Payment(op.id), t.keys.Version(op.id), recent, cachever)
		cur.events++
	}
	flush()
	return chunks, rejected
}

// operation is what the script does for one event.
type operation struct {
	kind    string
	id, org string
	version int64
	score   int64 // createdAt, Unix ms
	doc     []byte
}

// operation maps an event to its script operation, or returns why the
// target rejects it.
func (t *Target) operation(ev sinks.Event) (operation, string) {
	env := ev.Envelope
	switch {
	case env == nil:
		if ev.Key == "" {
			return operation{}, "tombstone without a key"
		}
		return operation{kind: kindTombstone, id: ev.Key}, ""
	case env.Type == schemas.TypePaymentDeleted:
		if env.AggregateID == "" || env.OrganizationID == "" {
			return operation{}, "PaymentDeleted without aggregate or organization id"
		}
		return operation{kind: kindDelete, id: env.AggregateID, org: env.OrganizationID, version: env.Version}, ""
	case env.State == nil:
		return operation{}, fmt.Sprintf("%s event %s carries no state", env.Type, env.EventID)
	}
	doc, err := newDocument(env.State)
	if err != nil {
		return operation{}, fmt.Sprintf("%s event %s: %v", env.Type, env.EventID, err)
	}
	if env.AggregateID != "" && env.AggregateID != doc.ID {
		return operation{}, fmt.Sprintf("%s event %s: state id %q differs from aggregate id %q", env.Type, env.EventID, doc.ID, env.AggregateID)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return operation{}, fmt.Sprintf("%s event %s: encode JSON: %v", env.Type, env.EventID, err)
	}
	return operation{kind: kindUpsert, id: doc.ID, org: doc.OrganizationID, version: doc.Version,
		score: doc.CreatedAt.UnixMilli(), doc: b}, ""
}
