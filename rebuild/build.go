package rebuild

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
)

// DefaultBatchMaxRecords is the default of BuilderConfig.BatchMaxRecords
// (the sinks' own default: a rebuild writes batches as large as a running
// sink's).
const DefaultBatchMaxRecords = sinks.DefaultBatchMaxRecords

// BuilderConfig configures a Builder.
type BuilderConfig struct {
	// KafkaOpts connect to the cluster (kafkaconn.Config.Opts).
	KafkaOpts []kgo.Opt
	Topic     string
	// Codec decodes event values (the aggregate's records.EventDecoder).
	Codec  records.EventDecoder
	Target sinks.Target
	// BatchMaxRecords bounds one Write (default DefaultBatchMaxRecords).
	BatchMaxRecords int
	// OnWritten is called after each batch written with the number of
	// records it covered (control records included) — the progress.
	OnWritten func(records int)
	Logger    *slog.Logger
}

// Builder reads ranges of the events topic with its own consumer — no
// group, partitions assigned directly, read_committed, transaction markers
// kept so that a position is exact — and writes them through a
// sinks.Target in batches. It never writes a record at or beyond the bound
// RunTo is given, so a store can be brought to exactly the offsets of
// another (Switch.CatchUp); records fetched beyond it wait for the next
// RunTo.
//
// A Builder does not send rejected events to the events DLQ: the running
// sink did so when it first met them. It counts and logs them.
type Builder struct {
	cfg    BuilderConfig
	client *kgo.Client
	log    *slog.Logger
	// pos is the next offset to write per partition; held are records
	// fetched at or beyond the last bound, in offset order per partition.
	pos  map[int32]int64
	held map[int32][]*kgo.Record
	// Rejected counts the events the target refused or that did not
	// decode.
	Rejected int64
}

// NewBuilder starts a consumer of cfg.Topic at from (partition → offset;
// partitions not in from are not read).
func NewBuilder(cfg BuilderConfig, from map[int32]int64) (*Builder, error) {
	if cfg.Target == nil || cfg.Codec == nil || cfg.Topic == "" {
		return nil, errors.New("rebuild builder: Target, Codec and Topic are required")
	}
	cfg.BatchMaxRecords = cmp.Or(cfg.BatchMaxRecords, DefaultBatchMaxRecords)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	offs := make(map[int32]kgo.Offset, len(from))
	for p, o := range from {
		offs[p] = kgo.NewOffset().At(o)
	}
	opts := append(slices.Clone(cfg.KafkaOpts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: offs}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(16<<20),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("rebuild builder: kafka client: %w", err)
	}
	return &Builder{cfg: cfg, client: cl, log: cfg.Logger, pos: maps.Clone(from), held: map[int32][]*kgo.Record{}}, nil
}

// Close closes the consumer (not the target).
func (b *Builder) Close() { b.client.Close() }

// Position returns the next offset to write per partition.
func (b *Builder) Position() map[int32]int64 { return maps.Clone(b.pos) }

// RunTo writes every record below until[p] on each partition p it reads
// and returns once each partition is there (a partition absent from until
// is left where it is). It returns the number of records covered.
func (b *Builder) RunTo(ctx context.Context, until map[int32]int64) (int64, error) {
	var covered int64
	for {
		var batch []*kgo.Record
		done := true
		for p, bound := range until {
			if _, reads := b.pos[p]; !reads {
				continue
			}
			take, rest, reached := b.split(p, bound)
			batch = append(batch, take...)
			b.held[p] = rest
			if !reached {
				done = false
			}
		}
		if len(batch) > 0 {
			if err := b.write(ctx, batch); err != nil {
				return covered, err
			}
			covered += int64(len(batch))
			continue
		}
		if done {
			return covered, nil
		}
		if err := b.fetch(ctx); err != nil {
			return covered, err
		}
	}
}

// split takes up to a batch of held records of p below bound and reports
// whether p has reached bound (its position is there, or a held record is
// at or beyond it: compaction may have removed the offsets in between).
func (b *Builder) split(p int32, bound int64) (take, rest []*kgo.Record, reached bool) {
	held := b.held[p]
	n := 0
	for n < len(held) && held[n].Offset < bound && n < b.cfg.BatchMaxRecords {
		n++
	}
	take, rest = held[:n], held[n:]
	next := b.pos[p]
	if n > 0 {
		next = take[n-1].Offset + 1
	}
	reached = next >= bound || (len(rest) > 0 && rest[0].Offset >= bound)
	return take, rest, reached
}

// fetch polls once and holds what arrives.
func (b *Builder) fetch(ctx context.Context) error {
	fs := b.client.PollRecords(ctx, b.cfg.BatchMaxRecords)
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	fs.EachError(func(t string, p int32, err error) {
		errs = append(errs, fmt.Errorf("fetch %s/%d: %w", t, p, err))
	})
	fs.EachRecord(func(r *kgo.Record) { b.held[r.Partition] = append(b.held[r.Partition], r) })
	if len(errs) > 0 && fs.NumRecords() == 0 {
		b.log.Warn("rebuild: fetch failed; retrying", "err", errors.Join(errs...))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}

// write decodes recs (any partitions, in offset order per partition) and
// writes them, retrying with capped backoff until it succeeds or ctx ends;
// then it moves the positions past them.
func (b *Builder) write(ctx context.Context, recs []*kgo.Record) error {
	events := make([]sinks.Event, 0, len(recs))
	for _, r := range recs {
		if r.Attrs.IsControl() {
			continue
		}
		ev := sinks.Event{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key),
			Raw: sinks.RawRecord{Topic: r.Topic, Key: r.Key, Value: r.Value}}
		if r.Value != nil {
			env, err := b.cfg.Codec.DecodeEvent(r.Value)
			if err != nil {
				b.Rejected++
				b.log.Warn("rebuild: event does not decode; skipped (the running sink sent it to the events DLQ)",
					"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
				continue
			}
			ev.Envelope = env
		}
		if c, ok := b.cfg.Target.(sinks.Checker); ok {
			if reason := c.Check(ev); reason != "" {
				b.Rejected++
				b.log.Warn("rebuild: event the target cannot store; skipped (the running sink sent it to the events DLQ)",
					"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", reason)
				continue
			}
		}
		events = append(events, ev)
	}
	backoff := 100 * time.Millisecond
	for len(events) > 0 {
		rejected, err := b.cfg.Target.Write(ctx, b.cfg.Topic, events)
		if err == nil {
			for _, rj := range rejected {
				b.Rejected++
				b.log.Warn("rebuild: event rejected by the target; skipped (the running sink sent it to the events DLQ)",
					"topic", b.cfg.Topic, "partition", rj.Event.Partition, "offset", rj.Event.Offset, "reason", rj.Reason)
			}
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, sinks.ErrPermanent) || errors.Is(err, sinks.ErrStoreOwned) {
			return fmt.Errorf("rebuild: write into %s: %w", b.cfg.Target.Name(), err)
		}
		b.log.Warn("rebuild: write failed; retrying", "sink", b.cfg.Target.Name(), "events", len(events), "backoff", backoff, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	for _, r := range recs {
		b.pos[r.Partition] = r.Offset + 1
	}
	if b.cfg.OnWritten != nil {
		b.cfg.OnWritten(len(recs))
	}
	return nil
}

// ScanKeys reads [from[p], until[p]) of topic and returns the distinct
// record keys: the aggregates an in-place rebuild from a later start must
// forget before it replays the range.
func ScanKeys(ctx context.Context, kafkaOpts []kgo.Opt, topic string, from, until map[int32]int64) ([]string, error) {
	keys := map[string]bool{}
	st := &keyCollector{keys: keys}
	b, err := NewBuilder(BuilderConfig{KafkaOpts: kafkaOpts, Topic: topic, Codec: nopCodec{}, Target: st, BatchMaxRecords: 10000}, from)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if _, err := b.RunTo(ctx, until); err != nil {
		return nil, fmt.Errorf("scan the keys of %s: %w", topic, err)
	}
	return slices.Sorted(maps.Keys(keys)), nil
}

// keyCollector is the sinks.Target ScanKeys writes into.
type keyCollector struct{ keys map[string]bool }

func (*keyCollector) Name() string                { return "key scan" }
func (*keyCollector) Setup(context.Context) error { return nil }
func (*keyCollector) Close() error                { return nil }
func (*keyCollector) CommittedOffsets(context.Context, string, []int32) (map[int32]int64, error) {
	return nil, nil
}
func (k *keyCollector) Write(_ context.Context, _ string, batch []sinks.Event) ([]sinks.Rejected, error) {
	for _, ev := range batch {
		k.keys[ev.Key] = true
	}
	return nil, nil
}

// nopCodec decodes nothing: ScanKeys needs keys only.
type nopCodec struct{}

func (nopCodec) DecodeEvent([]byte) (*records.Event, error) { return nil, nil }
