package processors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	tCommands = "t.commands"
	tEvents   = "t.events"
	tResults  = "t.results"
	tDLQ      = "t.dlq"
)

// fakeKafka starts an in-process kfake cluster with the four topics.
func fakeKafka(t *testing.T, partitions int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, tCommands, tEvents, tResults, tDLQ),
		kfake.GroupMinSessionTimeout(time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testLogger() *slog.Logger {
	if os.Getenv("PRISM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

var txnSeq atomic.Int64

func testConfig(c *kfake.Cluster) EngineConfig {
	return EngineConfig{
		Kafka:           []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)},
		CommandsTopic:   tCommands,
		EventsTopic:     tEvents,
		ResultsTopic:    tResults,
		DLQTopic:        tDLQ,
		Group:           "t.processor",
		TransactionalID: fmt.Sprintf("t.txn-%d", txnSeq.Add(1)),
		BatchMaxRecords: 100,
		BatchMaxWait:    20 * time.Millisecond,
		SessionTimeout:  6 * time.Second,
		RestoreSettle:   time.Second,
		RestoreQuiet:    2 * time.Second,
		Aggregate:       counterAggregate{},
		Logger:          testLogger(),
		Metrics:         prometheus.NewRegistry(),
	}
}

// runningEngine is an Engine running in the background.
type runningEngine struct {
	e      *Engine
	cancel context.CancelFunc
	done   chan error
}

func startEngine(t *testing.T, cfg EngineConfig) *runningEngine {
	t.Helper()
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningEngine{e: e, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and checks that it returned nil (clean shutdown).
func (r *runningEngine) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel")
	}
}

func produce(t *testing.T, c *kfake.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, r := range recs {
		if r.Topic == "" {
			recs[i].Topic = tCommands
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func cmd(key, value string) *kgo.Record {
	return &kgo.Record{Topic: tCommands, Key: []byte(key), Value: []byte(value)}
}

// readCommitted returns every committed data record of topic, in offset
// order per partition, reading each partition up to its last stable offset.
func readCommitted(t *testing.T, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			need[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(need) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: still waiting for partitions %v", topic, need)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := need[r.Partition]; ok && r.Offset >= end-1 {
				delete(need, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// waitRecords waits until topic holds at least n committed data records.
func waitRecords(t *testing.T, c *kfake.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs := readCommitted(t, c, topic)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d committed records after 30s, want %d", topic, len(recs), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// metricValue reads a counter or gauge, or a histogram's sample count.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	switch {
	case pb.Counter != nil:
		return pb.Counter.GetValue()
	case pb.Gauge != nil:
		return pb.Gauge.GetValue()
	case pb.Histogram != nil:
		return float64(pb.Histogram.GetSampleCount())
	}
	t.Fatalf("metric %v is neither a counter, a gauge nor a histogram", m.Desc())
	return 0
}
