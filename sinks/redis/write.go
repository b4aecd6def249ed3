package redis

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/sinks"
)

// chunk is one call of applyScript.
type chunk struct {
	partitions []int32
	keys       []string
	args       []any
	events     int
}

// Write applies batch with an exactly-once effect (see applyScript), in
// chunks of at most Config.ChunkEvents events: each chunk is one atomic
// EVALSHA that also stores its partitions' offsets. Chunks are built while
// the ones before run in Redis; every chunk built meanwhile is sent in the
// next round trip (a pipeline, run in batch order), so a batch costs a few
// round trips rather than one per chunk. A chunk that follows an
// unapplied one on a partition writes nothing (applyScript's chain check).
//
// When an offset this target stored or read before is missing, Redis lost
// its data: nothing is written and the error wraps sinks.ErrRewind, so the
// runtime seeks back to CommittedOffsets (now absent: the log start) and the
// cache is rebuilt from the compacted topic.
//
// Events the projection refuses (Check) are rejected; the runtime usually
// took them out of the batch already and sent them to the DLQ (the target
// is a sinks.Checker). Events that cannot be represented (the aggregate's
// CacheDoc fails: no state, an unknown currency; no id or organization, an
// id differing from the event's aggregate id, a document not starting with
// its version) are returned as rejected; the offsets of the events Write
// rejects still advance, so a restart does not reject them twice. On
// error the chunks applied hold, per partition, the batch's events up to
// the failing chunk: the retried batch skips them by offset. Redis
// unreachable, timeouts and transient replies are wrapped in
// sinks.ErrTransient. A script cache emptied by a Redis
// restart (NOSCRIPT) is reloaded and the chunks not applied sent again.
//
// A live target writes the version the pointer names: when a rebuild
// switched versions, the chunk is refused as a whole and Write goes on with
// the batch in the new version (whose offsets skip the events it holds
// already); while a switch is bringing the new version up to this one
// (Keys.Switching), Write waits.
func (t *Target) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	wait := 5 * time.Millisecond
	for moves := 0; ; {
		rejected, err := t.write(ctx, topic, batch)
		switch {
		case goredis.HasErrorPrefix(err, "PRISM_VERSION_MOVED"):
			if moves++; moves > maxMoves {
				return nil, fmt.Errorf("redis: the version pointer %s moved %d times during one batch: %w", t.base.Pointer(), moves-1, err)
			}
			v, rerr := t.base.CurrentVersion(ctx, t.client)
			if rerr != nil {
				return nil, classify("read version pointer "+t.base.Pointer(), rerr)
			}
			t.moveTo(topic, v)
		case goredis.HasErrorPrefix(err, "PRISM_SWITCHING"):
			t.log.Debug("a switch of versions is catching up: waiting", "aggregate", t.cfg.Names.Plural, "wait", wait)
			select {
			case <-ctx.Done():
				return nil, classify("wait for the switch of versions of "+t.base.Pointer(), ctx.Err())
			case <-time.After(wait):
			}
			wait = min(2*wait, 100*time.Millisecond)
		default:
			return rejected, err
		}
	}
}

// maxMoves bounds how often one Write follows the version pointer.
const maxMoves = 10

// write is one attempt of Write in the version the target writes now.
func (t *Target) write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	queue := make(chan chunk, 64)
	type outcome struct {
		counts [3]int64
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		for c := range queue {
			// Every chunk built meanwhile goes in the same round trip.
			cs := []chunk{c}
		more:
			for {
				select {
				case c, ok := <-queue:
					if !ok {
						break more
					}
					cs = append(cs, c)
				default:
					break more
				}
			}
			if o.err != nil {
				continue // drain: the builder never blocks on a failed executor
			}
			res, applied, err := t.apply(ctx, cs)
			for _, c := range applied {
				t.stored.add(topic, c.partitions)
			}
			for i := range res {
				o.counts[i] += res[i]
			}
			o.err = err
		}
		done <- o
	}()
	rejected := t.buildChunks(topic, batch, t.keys(), t.follow.Load(), func(c chunk) { queue <- c })
	close(queue)
	o := <-done
	if goredis.HasErrorPrefix(o.err, "PRISM_VERSION_MOVED") || goredis.HasErrorPrefix(o.err, "PRISM_SWITCHING") {
		return nil, o.err
	}
	if goredis.HasErrorPrefix(o.err, "PRISM_OFFSETS_LOST") {
		t.stored.reset(topic)
		t.log.Error("Redis lost the sink's offsets (restarted without persistence, flushed or evicted): asking the runtime to rewind", "topic", topic, "err", o.err)
		return nil, fmt.Errorf("redis: %w: %w", sinks.ErrRewind, o.err)
	}
	if o.err != nil {
		return nil, classify(fmt.Sprintf("apply batch of %d events from %s", len(batch), topic), o.err)
	}
	t.log.Debug("batch applied", "topic", topic, "events", len(batch),
		"applied", o.counts[countApplied], "older", o.counts[countOlder],
		"replayed", o.counts[countReplayed], "rejected", len(rejected))
	return rejected, nil
}

// apply runs chunks in order in one round trip (a pipeline of EVALSHA),
// loading the script and sending again what did not apply when Redis lost
// it. It returns the summed counters, the chunks applied and the first
// error. A chunk that follows a failed one on a partition fails without
// writing (PRISM_CHAIN_BROKEN, see applyScript), so what applied is, per
// partition, a prefix of the batch; chunks of other partitions may apply
// after a failed one (the retried batch skips them by offset).
func (t *Target) apply(ctx context.Context, cs []chunk) ([3]int64, []chunk, error) {
	var counts [3]int64
	var applied []chunk
	for attempt := 0; ; attempt++ {
		pipe := t.client.Pipeline()
		cmds := make([]*goredis.Cmd, len(cs))
		for i, c := range cs {
			cmds[i] = applyScript.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		// Each command's reply or error is read below; a command without
		// either got no answer (Redis unreachable): the pipeline's error.
		_, execErr := pipe.Exec(ctx)
		var firstErr error
		var failed []chunk
		noScript := false
		for i, cmd := range cmds {
			res, err := cmd.Int64Slice()
			if err != nil && cmd.Err() == nil && execErr != nil {
				err = execErr
			}
			if err == nil {
				applied = append(applied, cs[i])
				for j := range min(len(res), len(counts)) {
					counts[j] += res[j]
				}
				continue
			}
			failed = append(failed, cs[i])
			noScript = noScript || goredis.HasErrorPrefix(err, "NOSCRIPT")
			if firstErr == nil && !goredis.HasErrorPrefix(err, "PRISM_CHAIN_BROKEN") {
				firstErr = err
			}
		}
		if len(failed) == 0 {
			return counts, applied, nil
		}
		if firstErr == nil {
			// Only chain errors: cannot happen without an earlier failure.
			firstErr = fmt.Errorf("chunks refused after no failed chunk: %w", cmds[0].Err())
		}
		if !noScript || attempt > 0 {
			return counts, applied, firstErr
		}
		if lerr := applyScript.Load(ctx, t.client).Err(); lerr != nil {
			return counts, applied, fmt.Errorf("reload apply script: %w", lerr)
		}
		cs = failed
	}
}

// buildChunks turns the batch into script calls, handing each to emit as
// soon as it is complete, and returns the events the target refuses.
// The chunks write keys k; live: the script checks that k's version is the
// current one.
func (t *Target) buildChunks(topic string, batch []sinks.Event, k Keys, live bool, emit func(chunk)) []sinks.Rejected {
	header := t.header(k)
	check := ""
	if live {
		check = strconv.Itoa(k.VersionNumber())
	}
	pointerKeys := []string{k.Pointer(), k.Switching()}
	var (
		rejected []sinks.Rejected
		// seen: the organizations of the batch's chunks so far, in order;
		// the last chunk trims their recent index and refreshes its TTL.
		seen   []string
		isSeen = map[string]bool{}
		// done: per partition, the highest next offset of the chunks so far
		done = map[int32]int64{}
	)
	for start := 0; start < len(batch); start += t.cfg.ChunkEvents {
		evs := batch[start:min(start+t.cfg.ChunkEvents, len(batch))]
		parts, orgs := map[int32]int{}, map[string]int{}
		var offsetKeys, orgKeys []string
		var expected []byte
		metas := make([]byte, 0, metaSize*len(evs))
		var lastNext []int64 // per partition index: the highest next offset of the chunk
		// joined: the JSON array of the upserts' and deletes' invalidation
		// messages, in order; ends: where each ends in it (1-based), for
		// the script to cut out the applied ones when some are skipped.
		joined, ends := []byte{'['}, []byte{}
		evKeys := make([]string, 0, keyStride*len(evs))
		evArgs := make([]any, 0, argStride*len(evs))
		for _, ev := range evs {
			pidx, ok := parts[ev.Partition]
			if !ok {
				pidx = len(parts) + 1
				parts[ev.Partition] = pidx
				offsetKeys = append(offsetKeys, k.Offset(topic, ev.Partition))
				lastNext = append(lastNext, 0)
				expected = append(expected, map[bool]byte{true: '1', false: '0'}[t.stored.has(topic, ev.Partition)])
			}
			op, reason := t.operation(ev)
			if reason != "" {
				rejected = append(rejected, sinks.Rejected{Event: ev, Reason: reason})
				op = writeOp{kind: kindSkip, id: ev.Key}
			}
			oidx := 0
			if op.org != "" {
				if oidx, ok = orgs[op.org]; !ok {
					oidx = len(orgs) + 1
					orgs[op.org] = oidx
					orgKeys = append(orgKeys, k.Recent(op.org), k.CacheVersion(op.org))
					if !isSeen[op.org] {
						isSeen[op.org] = true
						seen = append(seen, op.org)
					}
				}
			}
			lastNext[pidx-1] = max(lastNext[pidx-1], ev.Offset+1)
			metas = appendMeta(metas, op, pidx, ev.Offset+1, oidx)
			if op.kind == kindUpsert || op.kind == kindDelete {
				if len(joined) > 1 {
					joined = append(joined, ',')
					ends = append(ends, ',')
				}
				joined = t.appendMessage(joined, op.org, op.id, op.version)
				ends = strconv.AppendInt(ends, int64(len(joined)), 10)
			}
			evArgs = append(evArgs, op.id, op.doc)
			evKeys = append(evKeys, k.Doc(op.id))
		}
		// Trim and TTL of the recent indexes once per batch: in its last
		// chunk, for every organization of the batch (those absent from
		// the chunk added at the end of its list).
		var finals []byte
		if start+len(evs) == len(batch) {
			for _, org := range seen {
				if _, ok := orgs[org]; !ok {
					orgs[org] = len(orgs) + 1
					orgKeys = append(orgKeys, k.Recent(org), k.CacheVersion(org))
				}
			}
			finals = bytes.Repeat([]byte{'1'}, len(orgs))
		} else {
			finals = bytes.Repeat([]byte{'0'}, len(orgs))
		}
		// required: per partition index, the next offset the chunks before
		// this one reach (0: none has the partition); the script refuses
		// the chunk when the stored offset is below it (one of them failed).
		required := make([]int64, len(parts))
		for p, i := range parts {
			required[i-1] = done[p]
		}
		for p, i := range parts {
			done[p] = max(done[p], lastNext[i-1])
		}
		c := chunk{events: len(evs)}
		c.keys = make([]string, 0, len(offsetKeys)+len(orgKeys)+len(evKeys)+len(pointerKeys))
		c.keys = append(append(append(append(c.keys, offsetKeys...), orgKeys...), evKeys...), pointerKeys...)
		c.args = make([]any, 0, argHeader+len(evArgs))
		c.args = append(append(append(c.args, header...), len(parts), len(orgs), string(expected), string(finals), append(joined, ']'), string(ends), metas, joinInts(lastNext), check, k.cvorg, joinInts(required)), evArgs...)
		c.partitions = slices.Collect(maps.Keys(parts))
		emit(c)
	}
	return rejected
}

// writeOp is what the script does for one event.
type writeOp struct {
	kind    string
	id, org string
	version int64
	score   float64
	doc     []byte
}

// Check implements sinks.Checker: the events Write rejects whatever Redis
// holds, known from the event alone: a tombstone without a key, an event
// the projection refuses (projections.Cache.Check). What only CacheDoc
// finds out (a state a reader could not use, a document breaking the
// contract) is left to Write.
func (t *Target) Check(ev sinks.Event) string {
	env := ev.Envelope
	if env == nil {
		if ev.Key == "" {
			return "tombstone without a key"
		}
		return ""
	}
	return t.cache.Check(env)
}

// operation maps an event to its script operation through the aggregate's
// projections.Cache, or returns why the target rejects it.
func (t *Target) operation(ev sinks.Event) (writeOp, string) {
	if reason := t.Check(ev); reason != "" {
		return writeOp{}, reason
	}
	env := ev.Envelope
	if env == nil {
		return writeOp{kind: kindTombstone, id: ev.Key}, ""
	}
	d, err := t.cache.CacheDoc(env)
	if err != nil {
		return writeOp{}, err.Error()
	}
	if d.Delete {
		if d.ID == "" || d.OrganizationID == "" {
			return writeOp{}, fmt.Sprintf("%s event %s: delete without aggregate or organization id", env.Type, env.EventID)
		}
		return writeOp{kind: kindDelete, id: d.ID, org: d.OrganizationID, version: d.Version}, ""
	}
	switch {
	case d.ID == "" || d.OrganizationID == "":
		return writeOp{}, fmt.Sprintf("%s event %s: document without id or organization id", env.Type, env.EventID)
	case env.AggregateID != "" && env.AggregateID != d.ID:
		return writeOp{}, fmt.Sprintf("%s event %s: state id %q differs from aggregate id %q", env.Type, env.EventID, d.ID, env.AggregateID)
	case !versionHead(d.JSON, d.Version):
		return writeOp{}, fmt.Sprintf("%s event %s: document does not start with {\"version\":%d (projections.CacheDoc)", env.Type, env.EventID, d.Version)
	}
	return writeOp{kind: kindUpsert, id: d.ID, org: d.OrganizationID, version: d.Version, score: d.Score, doc: d.JSON}, ""
}

// metaSize is the size of one event's entry in the script's metas argument.
const metaSize = 1 + 2 + 8 + 8 + 2 + 8

// appendMeta appends one event's small fields in the layout the script
// reads with struct.unpack('<BHddHd'): kind (one byte), partition index
// (uint16, 1-based), next offset = offset+1 (float64), version (float64),
// organization index (uint16, 1-based; 0 for tombstones and skips) and,
// for upserts, the score (projections.CacheDoc.Score; float64, 0
// otherwise), all little-endian. Offsets, versions and scores are exact as
// float64 below 2^53; the offsets the script stores come from the decimal
// strings of joinInts instead.
func appendMeta(b []byte, op writeOp, pidx int, next int64, oidx int) []byte {
	b = append(b, op.kind[0])
	b = binary.LittleEndian.AppendUint16(b, uint16(pidx))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(next)))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(op.version)))
	b = binary.LittleEndian.AppendUint16(b, uint16(oidx))
	var score float64
	if op.kind == kindUpsert {
		score = op.score
	}
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(score))
}

// joinInts renders vs as comma-separated decimals.
func joinInts(vs []int64) string {
	var b []byte
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return string(b)
}
