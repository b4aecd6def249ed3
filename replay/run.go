package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
)

// PartitionSummary is what a run did on one source partition.
type PartitionSummary struct {
	Range
	Read    int64 // data records read in the range
	Copied  int64 // written to the target and acknowledged (DryRun: would be copied)
	Skipped int64 // left out by the key or type filter
}

// Summary is what a run did.
type Summary struct {
	ID         string // the replay id, in every copy's prism-replay-id header
	From, To   string
	DryRun     bool
	Partitions []PartitionSummary
	// LimitReached says the run stopped at Config.Limit.
	LimitReached bool
	// Interrupted says ctx ended before the range was copied; what was
	// handed to the producer by then was still written and is counted.
	Interrupted bool
}

// Totals sums the partitions.
func (s Summary) Totals() (read, copied, skipped int64) {
	for _, p := range s.Partitions {
		read, copied, skipped = read+p.Read, copied+p.Copied, skipped+p.Skipped
	}
	return read, copied, skipped
}

// flushTimeout bounds the flush of what was handed to the producer after
// ctx ended (Ctrl-C): those records are written, not dropped.
const flushTimeout = 30 * time.Second

// Run copies the planned range of cfg.FromTopic to cfg.ToTopic (with
// DryRun, reads and counts it). It reads with read_committed up to the end
// offsets listed at start (a bounded copy: records appended later are not
// copied) and writes with an idempotent producer, the key's partition
// chosen by Kafka's murmur2 partitioner (as `prism produce` does), so the
// copies of one key stay in source order on one partition.
//
// Under failure: a delivery error stops the run and is returned; records
// delivered before it are counted and stay written (a second run copies
// them again: the processor's dedup answers an accepted command again as a
// duplicate). When ctx ends, reading stops, what was handed to the producer
// is flushed (at most flushTimeout) and counted, and Run returns the
// summary with Interrupted and ctx's error. A topic that does not exist
// returns an error wrapping ErrTopicNotFound before anything is read.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if len(cfg.Kafka) == 0 {
		return Summary{}, errors.New("replay: no Kafka client options")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	sum := Summary{ID: uuid.NewString(), From: cfg.FromTopic, To: cfg.ToTopic, DryRun: cfg.DryRun}
	admCl, err := kgo.NewClient(cfg.Kafka...)
	if err != nil {
		return sum, fmt.Errorf("kafka client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ranges, err := plan(ctx, adm, cfg)
	if err != nil {
		return sum, err
	}
	r := &run{cfg: cfg, sum: &sum, adm: adm, byPart: map[int32]*PartitionSummary{}}
	consume := map[int32]kgo.Offset{}
	for _, rg := range ranges {
		sum.Partitions = append(sum.Partitions, PartitionSummary{Range: rg})
	}
	for i := range sum.Partitions {
		ps := &sum.Partitions[i]
		r.byPart[ps.Partition] = ps
		if ps.Records() > 0 {
			consume[ps.Partition] = kgo.NewOffset().At(ps.From)
		}
	}
	if cfg.OnPlan != nil {
		cfg.OnPlan(sum.ID, ranges)
	}
	cfg.Logger.Info("replay", "id", sum.ID, "from", cfg.FromTopic, "to", cfg.ToTopic, "dry_run", cfg.DryRun, "partitions", len(ranges))
	if len(consume) == 0 {
		return sum, nil
	}
	opts := append(slices.Clone(cfg.Kafka),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.FromTopic: consume}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // a transaction's marker may be the last offset before the end
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // murmur2, as producers/producer.go
		kgo.RequiredAcks(kgo.AllISRAcks()),                   // idempotent (franz-go's default) needs all ISR acks
		kgo.DefaultProduceTopic(cfg.ToTopic),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return sum, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	r.cl = cl
	runErr := r.copy(ctx, len(consume))
	if errors.Is(runErr, errLimit) {
		runErr = nil
	}
	// Records handed to the producer are written even after ctx ended.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if err := cl.Flush(fctx); err != nil && runErr == nil {
		runErr = fmt.Errorf("flush copies to %s: %w", cfg.ToTopic, err)
	}
	if err := r.deliveryErr(); err != nil && (runErr == nil || errors.Is(runErr, context.Canceled)) {
		runErr = err
	}
	if ctx.Err() != nil {
		sum.Interrupted = true
	}
	read, copied, skipped := sum.Totals()
	cfg.Logger.Info("replay done", "id", sum.ID, "read", read, "copied", copied, "skipped", skipped, "interrupted", sum.Interrupted)
	return sum, runErr
}

type run struct {
	cfg    Config
	sum    *Summary
	adm    *kadm.Client
	cl     *kgo.Client
	byPart map[int32]*PartitionSummary

	mu      sync.Mutex // guards Copied (set by producer callbacks) and errOnce
	errOnce error
	handed  int64 // records handed to the producer (or counted, DryRun)
}

func (r *run) deliveryErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errOnce
}

// copy reads until every partition reached its end, the limit is
// reached, a delivery fails or ctx ends.
func (r *run) copy(ctx context.Context, pending int) error {
	done := map[int32]bool{}
	finish := func(p int32) {
		if !done[p] {
			done[p] = true
			pending--
			r.cl.PauseFetchPartitions(map[string][]int32{r.cfg.FromTopic: {p}})
		}
	}
	for pending > 0 {
		if err := r.deliveryErr(); err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, r.cfg.IdleTimeout)
		fs := r.cl.PollFetches(pctx)
		idle := pctx.Err() != nil
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return fmt.Errorf("read %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		got := 0
		var stop error
		fs.EachRecord(func(rec *kgo.Record) {
			got++
			ps := r.byPart[rec.Partition]
			if stop != nil || ps == nil || done[rec.Partition] {
				return
			}
			if rec.Offset >= ps.To {
				finish(rec.Partition)
				return
			}
			if rec.Offset < ps.From {
				return // a reset to the log start (retention ran under us): not in the range
			}
			if !rec.Attrs.IsControl() {
				if err := r.one(ctx, ps, rec); err != nil {
					stop = err
					return
				}
			}
			if rec.Offset >= ps.To-1 {
				finish(rec.Partition)
			}
		})
		if stop != nil {
			return stop
		}
		if got == 0 && idle {
			// Nothing delivered for IdleTimeout: if the broker answers, the
			// partitions left end in records a read_committed consumer
			// never sees (aborted transactions, compacted away).
			if _, err := r.adm.ListCommittedOffsets(ctx, r.cfg.FromTopic); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.cfg.Logger.Warn("replay: nothing read, broker not answering; retrying", "topic", r.cfg.FromTopic, "err", err)
				continue
			}
			for p := range r.byPart {
				if !done[p] && r.byPart[p].Records() > 0 {
					r.cfg.Logger.Info("replay: partition ends in records a read_committed reader does not see", "topic", r.cfg.FromTopic, "partition", p)
					finish(p)
				}
			}
		}
	}
	return nil
}

// errLimit stops the read loop when Config.Limit is reached.
var errLimit = errors.New("limit reached")

// one filters rec and copies (or counts) it.
func (r *run) one(ctx context.Context, ps *PartitionSummary, rec *kgo.Record) error {
	if err := ctx.Err(); err != nil {
		return err // Ctrl-C: the rest of this fetch is not read
	}
	ps.Read++
	if r.cfg.OnRead != nil {
		r.cfg.OnRead()
	}
	if !r.keep(rec) {
		ps.Skipped++
		return nil
	}
	if r.cfg.Limit > 0 && r.handed >= r.cfg.Limit {
		ps.Read-- // not read for this run: the limit came first
		r.sum.LimitReached = true
		return errLimit
	}
	r.handed++
	if r.cfg.DryRun {
		ps.Copied++
		return nil
	}
	out := &kgo.Record{
		Topic: r.cfg.ToTopic,
		Key:   rec.Key,
		Value: rec.Value,
		Headers: append(slices.Clone(rec.Headers),
			kgo.RecordHeader{Key: records.HeaderReplayTopic, Value: []byte(rec.Topic)},
			kgo.RecordHeader{Key: records.HeaderReplayPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
			kgo.RecordHeader{Key: records.HeaderReplayOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
			kgo.RecordHeader{Key: records.HeaderReplayID, Value: []byte(r.sum.ID)},
		),
	}
	// The copy is written even when ctx ends now: the flush in Run bounds it.
	r.cl.Produce(context.WithoutCancel(ctx), out, func(_ *kgo.Record, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			if r.errOnce == nil {
				r.errOnce = fmt.Errorf("write copy of %s/%d@%d to %s: %w", rec.Topic, rec.Partition, rec.Offset, r.cfg.ToTopic, err)
			}
			return
		}
		ps.Copied++
	})
	return nil
}

// keep applies the key and type filters.
func (r *run) keep(rec *kgo.Record) bool {
	if len(r.cfg.Keys) > 0 && !slices.Contains(r.cfg.Keys, string(rec.Key)) {
		return false
	}
	if len(r.cfg.Types) > 0 {
		typ, ok := header(rec, records.HeaderType)
		if !ok || !slices.Contains(r.cfg.Types, typ) {
			return false
		}
	}
	return true
}

func header(rec *kgo.Record, key string) (string, bool) {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
