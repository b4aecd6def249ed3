package processors_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/processors"
)

// txLoop is the second engine baseline of BenchmarkProcessorThroughput: a
// bare franz-go transactional consume → produce loop over the round's
// commands, with nothing of the engine (no decoding, no aggregate, no
// state, no middleware, no metrics). It consumes the commands topic in its
// own consumer group with read_committed, and for each command produces
// two records in the transaction that commits the consumed offsets: an
// event-sized record (keyed by the command's key, to the command's
// partition of a 12-partition look-alike events topic) and a result-sized
// one (keyed by the command id, by key hash to a look-alike results
// topic). The sizes are the engine's mean output sizes (outputSizes).
// Batches are collected as the engine's are by default: up to
// processors.DefaultBatchMaxRecords commands or
// processors.DefaultBatchMaxWait after the first, one transaction each.
type txLoop struct {
	brokers      []string
	commands     string // topic consumed
	events       string // look-alike events topic (output)
	results      string // look-alike results topic (output)
	group, txnID string
	sizes        outputSizes
	partitions   int32 // of both output topics, as of the engine's
}

// txLoopTopics creates the look-alike output topics (the partition count
// of the events and results topics) and returns a function deleting them.
func txLoopTopics(ctx context.Context, b *testing.B, admin *kgo.Client, loop *txLoop) func() {
	adm := kadm.NewClient(admin)
	for _, t := range []struct {
		name  string
		parts int32
	}{{loop.events, loop.partitions}, {loop.results, loop.partitions}} {
		resp, err := adm.CreateTopic(ctx, t.parts, 1, nil, t.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			b.Fatalf("create the tx-loop baseline's topic %s: %v", t.name, err)
		}
	}
	return func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, loop.events, loop.results)
	}
}

// txLoopResult is one run of the loop: records/s of inputs (first commit
// to last, as the engine's commands/s) and the process CPU per input in
// that window.
type txLoopResult struct {
	rate, cpuPerInput float64
}

// run consumes the next n commands (its group goes on from the offsets
// the previous round committed; round names its transactional id) and
// returns the rate.
func (l *txLoop) run(ctx context.Context, b *testing.B, round, n int) txLoopResult {
	opts := append(benchKafkaOpts(l.brokers),
		kgo.ConsumerGroup(l.group),
		kgo.ConsumeTopics(l.commands),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(fmt.Sprintf("%s-%d", l.txnID, round)),
		kgo.TransactionTimeout(processors.DefaultTxnTimeout),
		kgo.RecordPartitioner(txLoopPartitioner{events: l.events, byKey: kgo.StickyKeyPartitioner(nil)}),
		kgo.ProducerLinger(processors.DefaultProducerLinger),
		kgo.MaxBufferedRecords(max(50000, 8*processors.DefaultBatchMaxRecords)),
		kgo.FetchMaxBytes(processors.DefaultBatchMaxBytes),
		kgo.FetchMaxPartitionBytes(processors.DefaultFetchMaxPartitionBytes),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	var (
		done       int
		t0         time.Time
		cpu0       time.Duration
		c0         int
		produceErr = make(chan error, 1)
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			select {
			case produceErr <- err:
			default:
			}
		}
	}
	fill := make([]byte, 0, 4096)
	for done < n {
		if ctx.Err() != nil {
			b.Fatalf("tx-loop baseline: %d of %d commands after the timeout", done, n)
		}
		recs := txLoopCollect(ctx, sess)
		if len(recs) == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			b.Fatal(err)
		}
		// Two outputs per command, from one array per batch as the
		// engine's recordArena does.
		outs := make([]kgo.Record, 2*len(recs))
		for i, r := range recs {
			commandID := r.Key
			for _, h := range r.Headers {
				if h.Key == "prism-command-id" {
					commandID = h.Value
				}
			}
			// Values of the engine's mean sizes, filled with this
			// command's own bytes (as distinct, and about as
			// compressible, as the engine's outputs).
			fill = fill[:0]
			for len(fill) < l.sizes.EventValue+l.sizes.ResultValue {
				fill = append(fill, r.Value...)
			}
			ev := &outs[2*i]
			*ev = kgo.Record{Topic: l.events, Partition: r.Partition, Key: r.Key,
				Value:   append([]byte(nil), fill[:l.sizes.EventValue]...),
				Headers: txLoopHeaders(r.Headers, commandID, l.sizes.EventHeaders)}
			res := &outs[2*i+1]
			*res = kgo.Record{Topic: l.results, Key: commandID,
				Value:   append([]byte(nil), fill[l.sizes.EventValue:l.sizes.EventValue+l.sizes.ResultValue]...),
				Headers: txLoopHeaders(r.Headers, commandID, l.sizes.ResultHeaders)}
			sess.Produce(ctx, ev, promise)
			sess.Produce(ctx, res, promise)
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			b.Fatal(err)
		}
		select {
		case err := <-produceErr:
			b.Fatalf("tx-loop baseline produce: %v", err)
		default:
		}
		if !committed {
			continue
		}
		done += len(recs)
		if t0.IsZero() {
			// Steady state from the first commit, as for the engine.
			t0, cpu0, c0 = time.Now(), processCPU(), done
		}
	}
	wall := time.Since(t0)
	inputs := float64(done - c0)
	if inputs <= 0 {
		b.Fatalf("tx-loop baseline: %d commands, all in the first transaction", done)
	}
	return txLoopResult{
		rate:        inputs / wall.Seconds(),
		cpuPerInput: float64((processCPU() - cpu0).Microseconds()) / inputs,
	}
}

// txLoopHeaders are k headers for an output of the command whose headers
// are in: the command's own (type, ids, schema), then the command id
// again for the ones the command has not (an event's event id).
func txLoopHeaders(in []kgo.RecordHeader, commandID []byte, k int) []kgo.RecordHeader {
	hs := make([]kgo.RecordHeader, k)
	for i := range hs {
		if i < len(in) {
			hs[i] = in[i]
		} else {
			hs[i] = kgo.RecordHeader{Key: "prism-event-id", Value: commandID}
		}
	}
	return hs
}

// txLoopCollect polls one batch as the engine's collect does with its
// defaults: what the first poll brings (waiting up to a second), then more
// until DefaultBatchMaxRecords or DefaultBatchMaxWait.
func txLoopCollect(ctx context.Context, sess *kgo.GroupTransactSession) []*kgo.Record {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	fs := sess.PollFetches(pctx)
	cancel()
	recs := fs.Records()
	if len(recs) == 0 {
		return nil
	}
	deadline := time.Now().Add(processors.DefaultBatchMaxWait)
	for len(recs) < processors.DefaultBatchMaxRecords && time.Now().Before(deadline) {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fs := sess.PollRecords(pctx, processors.DefaultBatchMaxRecords-len(recs))
		cancel()
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// txLoopPartitioner is the engine's partitioner (processors/records.go):
// records of the events topic to the partition set on them, the others
// by key hash.
type txLoopPartitioner struct {
	events string
	byKey  kgo.Partitioner
}

func (p txLoopPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.events {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.byKey.ForTopic(topic)
}

// outputSizes are the engine's mean output sizes for the round's commands.
type outputSizes struct {
	EventValue, ResultValue     int // mean value bytes
	EventHeaders, ResultHeaders int // headers per record
}

// measureOutputs hands the first commands of recs (up to 4,000: the
// creation, authorization, capture and refund of the first 1,000
// payments) to the aggregate, off the clock and off the broker, and
// returns the mean sizes of the events and results it builds.
func measureOutputs(b *testing.B, agg processors.Aggregate, recs []*kgo.Record) outputSizes {
	states := make(map[string]processors.State)
	var evBytes, resBytes, evN, resN, evHs, resHs int
	for _, r := range recs[:min(len(recs), 4000)] {
		cmd, err := agg.DecodeCommand(r)
		if err != nil {
			b.Fatal(err)
		}
		out := agg.Handle(states[string(r.Key)], cmd, time.Now())
		states[string(r.Key)] = out.NewState
		for _, ev := range out.Events {
			if ev.Value != nil {
				evBytes, evN, evHs = evBytes+len(ev.Value), evN+1, len(ev.Headers)
			}
		}
		resBytes, resN, resHs = resBytes+len(out.Result.Value), resN+1, len(out.Result.Headers)
	}
	if evN == 0 || resN == 0 {
		b.Fatalf("no event or no result from %d commands", len(recs))
	}
	return outputSizes{EventValue: evBytes / evN, ResultValue: resBytes / resN, EventHeaders: evHs, ResultHeaders: resHs}
}
