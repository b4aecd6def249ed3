package status_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/status"
	"github.com/prism-cqrs/prism/topology"
)

const partitions = 3

// pipeline is a payments pipeline on kfake: its topics exist, nothing
// runs.
type pipeline struct {
	t     *testing.T
	kafka *kfake.Cluster
	opts  []kgo.Opt
	names topology.Names
	cl    *kgo.Client
	adm   *kadm.Client
	codec *schemas.Codec
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	names := topology.NewNames("st").Aggregate("payments")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, names.CommandsTopic(), names.EventsTopic(),
		names.ResultsTopic(), names.CommandsDLQTopic(), names.EventsDLQTopic()), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{t: t, kafka: c, opts: opts, names: names, cl: cl, adm: kadm.NewClient(cl), codec: codec}
}

func (p *pipeline) produce(ctx context.Context, topic string, n int, prefix string) {
	p.t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "%s-%d", prefix, i), Value: []byte("x")})
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		p.t.Fatal(err)
	}
}

// inTransaction produces recs in one committed transaction.
func (p *pipeline) inTransaction(ctx context.Context, recs ...*kgo.Record) {
	p.t.Helper()
	tx, err := kgo.NewClient(append(slices.Clone(p.opts), kgo.TransactionalID("tx-"+recs[0].Topic))...)
	if err != nil {
		p.t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		p.t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		p.t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pipeline) result(r *schemas.CommandResult) *kgo.Record {
	p.t.Helper()
	v, err := p.codec.EncodeResult(r)
	if err != nil {
		p.t.Fatal(err)
	}
	return &kgo.Record{Topic: p.names.ResultsTopic(), Key: []byte(r.CommandID), Value: v}
}

// eventsReadToTheMarkers produces n events in one committed transaction
// and commits group at each partition's commit marker (all events read,
// the marker not: lag 0 once the marker is settled); it returns those
// offsets.
func (p *pipeline) eventsReadToTheMarkers(ctx context.Context, n int, group string) map[int32]int64 {
	p.t.Helper()
	var evs []*kgo.Record
	for i := range n {
		evs = append(evs, &kgo.Record{Topic: p.names.EventsTopic(), Key: fmt.Appendf(nil, "p-%d", i), Value: []byte("e")})
	}
	p.inTransaction(ctx, evs...)
	atMarker := map[int32]int64{}
	for part, end := range p.ends(ctx, p.names.EventsTopic()) {
		if end > 0 {
			atMarker[part] = end - 1
		}
	}
	p.commit(ctx, group, p.names.EventsTopic(), atMarker)
	return atMarker
}

// snapshot is col's reading, failing the test on an error.
func snapshot(ctx context.Context, t *testing.T, col *status.Collector) *status.Snapshot {
	t.Helper()
	s, err := col.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ends returns the end offset of each partition of topic.
func (p *pipeline) ends(ctx context.Context, topic string) map[int32]int64 {
	p.t.Helper()
	l, err := p.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func (p *pipeline) commit(ctx context.Context, group, topic string, at map[int32]int64) {
	p.t.Helper()
	var os kadm.Offsets
	for part, o := range at {
		os.AddOffset(topic, part, o, -1)
	}
	if _, err := p.adm.CommitOffsets(ctx, group, os); err != nil {
		p.t.Fatal(err)
	}
}

func stageOf(t *testing.T, s *status.Snapshot, id string) status.Stage {
	t.Helper()
	for _, a := range s.Aggregates {
		for _, st := range a.Stages {
			if st.ID == id {
				return st
			}
		}
	}
	t.Fatalf("no stage %s in the snapshot", id)
	return status.Stage{}
}

func num(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestCollectorReadsThePipeline: on kfake, every stage of the topology is
// there in order; a group with a running member is ok, one without members
// is down; lag is counted as prism lag counts it (a sink committed at the
// commit marker of the last transaction has lag 0); DLQ counts, the
// rejected commands (newest first, accepted ones left out) and the
// rebuilds not finished are read; rates appear from the second reading and
// follow what was produced in between.
func TestCollectorReadsThePipeline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newPipeline(t)
	n := p.names
	def, err := payment.Definition()
	if err != nil {
		t.Fatal(err)
	}

	// Commands: 12; the processor group runs and has read them all.
	p.produce(ctx, n.CommandsTopic(), 12, "c")
	proc, err := kgo.NewClient(append(slices.Clone(p.opts), kgo.ConsumerGroup(n.ProcessorGroup()), kgo.ConsumeTopics(n.CommandsTopic()),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(6*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	for got := 0; got < 12; {
		fs := proc.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	if err := proc.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	// Events in one transaction: the redis sink committed at the marker
	// (caught up), the postgres sink committed nothing (all of it to read).
	atMarker := p.eventsReadToTheMarkers(ctx, 9, n.SinkGroup(topology.SinkRedis))

	// Dead letters, results (two rejected among three), rebuilds.
	p.produce(ctx, n.CommandsDLQTopic(), 2, "d")
	p.produce(ctx, n.EventsDLQTopic(), 1, "e")
	p.inTransaction(ctx,
		p.result(&schemas.CommandResult{CommandID: "cmd-1", PaymentID: "p-1", Accepted: false, Reason: "NOT_FOUND", Message: "no payment p-1"}),
		p.result(&schemas.CommandResult{CommandID: "cmd-2", PaymentID: "p-2", Accepted: true, EventVersion: 1}),
	)
	time.Sleep(5 * time.Millisecond) // a later timestamp
	p.inTransaction(ctx, p.result(&schemas.CommandResult{CommandID: "cmd-3", PaymentID: "p-3", Accepted: false, Reason: "INVALID_FIELD", Field: "amount", Message: "amount <= 0"}))
	states, err := rebuild.NewStateLog(p.opts, topology.NewNames("st").RebuildsTopic())
	if err != nil {
		t.Fatal(err)
	}
	defer states.Close()
	for _, s := range []*rebuild.Status{
		{Aggregate: "payments", Sink: "postgres", Mode: rebuild.ModeInPlace, Phase: rebuild.PhaseBuilding, Done: 40, Total: 100},
		{Aggregate: "payments", Sink: "redis", Mode: rebuild.ModeInPlace, Phase: rebuild.PhaseDone, Done: 9, Total: 9},
	} {
		if err := states.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	col, err := status.New(status.Config{
		Kafka: p.opts, Namespace: "st", MinInterval: time.Millisecond, SettleWait: 500 * time.Millisecond,
		Aggregates: []status.Aggregate{{Name: "payment", Names: n, Results: def.Results}},
		QueryService: func() status.QueryService {
			return status.QueryService{Sources: []status.Source{{Name: "redis", Healthy: true}, {Name: "postgres", Healthy: false}}, Requests: 7}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	s1 := snapshot(ctx, t, col)

	var ids []string
	for _, st := range s1.Aggregates[0].Stages {
		ids = append(ids, st.ID)
	}
	want := []string{"payments/commands", "payments/processor", "payments/events",
		"payments/sink/postgres", "payments/sink/readmodels", "payments/sink/redis", "payments/sink/elasticsearch"}
	if !slices.Equal(ids, want) {
		t.Errorf("stages %v, want %v", ids, want)
	}
	if st := stageOf(t, s1, "payments/commands"); st.Health != status.HealthOK || st.Offset != 12 || st.Rate != nil {
		t.Errorf("commands: %+v, want ok, offset 12, no rate yet", st)
	}
	if st := stageOf(t, s1, "payments/processor"); st.Health != status.HealthOK || st.Members != 1 || num(st.Lag) != "0" || st.Offset != 12 || num(st.DLQ) != "2" {
		t.Errorf("processor: %+v lag %s dlq %s, want ok, 1 member, lag 0, committed 12, DLQ 2", st, num(st.Lag), num(st.DLQ))
	}
	if st := stageOf(t, s1, "payments/events"); num(st.DLQ) != "1" || st.Offset != 9+int64(len(atMarker)) {
		t.Errorf("events: %+v dlq %s, want DLQ 1 and 9 events plus %d markers", st, num(st.DLQ), len(atMarker))
	}
	if st := stageOf(t, s1, "payments/sink/redis"); st.Health != status.HealthDown || num(st.Lag) != "0" {
		t.Errorf("redis sink committed at the markers, no member: %+v lag %s, want down with lag 0", st, num(st.Lag))
	}
	// Lag counts offsets, as prism lag does: markers between unread
	// records are in it.
	if st := stageOf(t, s1, "payments/sink/postgres"); st.Health != status.HealthDown || num(st.Lag) != fmt.Sprint(9+len(atMarker)) || st.State != "Dead" {
		t.Errorf("postgres sink never started: %+v lag %s, want down (Dead) with lag 9 plus %d markers", st, num(st.Lag), len(atMarker))
	}
	rej := s1.Aggregates[0].Rejected
	if len(rej) != 2 || rej[0].CommandID != "cmd-3" || rej[0].Reason != "INVALID_FIELD" || rej[0].Field != "amount" ||
		rej[1].CommandID != "cmd-1" || rej[1].Reason != "NOT_FOUND" || rej[1].AggregateID != "p-1" {
		t.Errorf("rejected %+v, want cmd-3 (INVALID_FIELD amount) then cmd-1 (NOT_FOUND)", rej)
	}
	if len(s1.Rebuilds) != 1 || s1.Rebuilds[0].Sink != "postgres" || s1.Rebuilds[0].Done != 40 || s1.Rebuilds[0].Total != 100 {
		t.Errorf("rebuilds %+v, want the postgres one at 40/100 only", s1.Rebuilds)
	}
	if q := s1.Query; q == nil || q.Health != status.HealthDegraded || q.Members != 1 || q.Offset != 7 {
		t.Errorf("query stage %+v, want degraded with 1 of 2 sources", q)
	}
	if len(s1.Warnings) != 0 || s1.Interval != 0 {
		t.Errorf("warnings %v interval %v", s1.Warnings, s1.Interval)
	}

	// Five more commands, one more rejected: rates and the list follow.
	p.produce(ctx, n.CommandsTopic(), 5, "more")
	p.inTransaction(ctx, p.result(&schemas.CommandResult{CommandID: "cmd-4", PaymentID: "p-4", Reason: "VERSION_CONFLICT"}))
	time.Sleep(20 * time.Millisecond)
	s2 := snapshot(ctx, t, col)
	cmds := stageOf(t, s2, "payments/commands")
	if cmds.Offset != 17 || cmds.Rate == nil || s2.Interval <= 0 {
		t.Fatalf("commands after 5 more: %+v interval %v, want offset 17 and a rate", cmds, s2.Interval)
	}
	if wantRate := 5 / s2.Interval; *cmds.Rate < wantRate*0.99 || *cmds.Rate > wantRate*1.01 {
		t.Errorf("commands rate %.2f/s, want 5 records over %.3fs = %.2f/s", *cmds.Rate, s2.Interval, wantRate)
	}
	if st := stageOf(t, s2, "payments/processor"); num(st.Lag) != "5" || st.Rate == nil || *st.Rate != 0 {
		t.Errorf("processor after 5 more: lag %s rate %v, want lag 5 and rate 0", num(st.Lag), st.Rate)
	}
	if rej := s2.Aggregates[0].Rejected; len(rej) != 3 || rej[0].CommandID != "cmd-4" || rej[2].CommandID != "cmd-1" {
		t.Errorf("rejected after one more: %+v", rej)
	}
}

// TestCollectorReadsAnUnsettledLagAgain: a lag whose transaction markers
// could not be read within SettleWait (a broker too busy to answer the
// read) is shown raw, and read again at the next reading instead of being
// kept as if settled: once the read goes through, the sink committed at
// the markers shows lag 0, as prism lag says.
func TestCollectorReadsAnUnsettledLagAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newPipeline(t)
	n := p.names
	atMarker := p.eventsReadToTheMarkers(ctx, 9, n.SinkGroup(topology.SinkRedis))

	// Fetches of the events topic go unanswered until silent is cleared.
	topics, err := p.adm.ListTopics(ctx, n.EventsTopic())
	if err != nil {
		t.Fatal(err)
	}
	eventsID := topics[n.EventsTopic()].ID
	var silent atomic.Bool
	silent.Store(true)
	p.kafka.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		p.kafka.KeepControl()
		if !silent.Load() {
			return nil, nil, false
		}
		for _, ft := range req.(*kmsg.FetchRequest).Topics {
			if ft.Topic == n.EventsTopic() || ft.TopicID == eventsID {
				return nil, nil, true // never answered
			}
		}
		return nil, nil, false
	})

	col, err := status.New(status.Config{
		Kafka: p.opts, Namespace: "st", MinInterval: time.Millisecond, SettleWait: 300 * time.Millisecond,
		Aggregates: []status.Aggregate{{Name: "payment", Names: n}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	s1 := snapshot(ctx, t, col)
	if st := stageOf(t, s1, "payments/sink/redis"); num(st.Lag) != fmt.Sprint(len(atMarker)) {
		t.Fatalf("redis sink with its markers unread: lag %s, want the raw %d (one marker per partition)", num(st.Lag), len(atMarker))
	}

	silent.Store(false)
	time.Sleep(5 * time.Millisecond)
	s2 := snapshot(ctx, t, col)
	if st := stageOf(t, s2, "payments/sink/redis"); num(st.Lag) != "0" {
		t.Errorf("redis sink once its markers can be read: lag %s, want 0 (the unsettled reading must not be kept)", num(st.Lag))
	}
}

// TestCollectorMissingTopicsAndCache: an aggregate whose topics do not
// exist shows every stage missing or down (never an error), and readings
// asked within MinInterval are the same reading.
func TestCollectorMissingTopicsAndCache(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := newPipeline(t)
	col, err := status.New(status.Config{
		Kafka: p.opts, Namespace: "st", MinInterval: time.Hour,
		Aggregates: []status.Aggregate{{Name: "invoice", Names: topology.NewNames("st").Aggregate("invoices")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	s1 := snapshot(ctx, t, col)
	for _, st := range s1.Aggregates[0].Stages {
		want := status.HealthDown
		if st.Kind == status.KindTopic {
			want = status.HealthMissing
		}
		if st.Health != want {
			t.Errorf("%s: health %s, want %s", st.ID, st.Health, want)
		}
	}
	if s1.Query != nil || len(s1.Rebuilds) != 0 || len(s1.Aggregates[0].Rejected) != 0 {
		t.Errorf("snapshot %+v, want no query stage, no rebuild, no rejected", s1)
	}
	s2, err := col.Snapshot(ctx)
	if err != nil || s2 != s1 {
		t.Errorf("a second reading within MinInterval: %p %v, want the first %p", s2, err, s1)
	}
	if _, err := status.New(status.Config{}); err == nil {
		t.Error("New accepted a config without Kafka options and aggregates")
	}
}
