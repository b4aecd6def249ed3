package invoice

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

const (
	tCommands = "t.invoices.commands"
	tEvents   = "t.invoices.events"
	tResults  = "t.invoices.command-results"
	tDLQ      = "t.invoices.commands.dlq"
)

// engineRun is the real processors.Engine running the invoice aggregate on
// an in-process kfake cluster.
type engineRun struct {
	cancel context.CancelFunc
	done   chan error
}

var txnSeq int

func startInvoiceEngine(t *testing.T, c *kfake.Cluster, agg *Aggregate) *engineRun {
	t.Helper()
	txnSeq++
	e, err := processors.NewEngine(processors.EngineConfig{
		Kafka:           []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)},
		CommandsTopic:   tCommands,
		EventsTopic:     tEvents,
		ResultsTopic:    tResults,
		DLQTopic:        tDLQ,
		Group:           "t.processor.invoices",
		TransactionalID: fmt.Sprintf("t.processor.invoices.txn-%d", txnSeq),
		BatchMaxRecords: 100,
		BatchMaxWait:    20 * time.Millisecond,
		SessionTimeout:  6 * time.Second,
		RestoreSettle:   time.Second,
		RestoreQuiet:    2 * time.Second,
		Aggregate:       agg,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:         prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &engineRun{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- e.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *engineRun) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("engine Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("engine did not stop within 30s")
	}
}

func produceRecords(t *testing.T, c *kfake.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// committed returns the committed data records of topic once it holds at
// least n of them.
func committed(t *testing.T, c *kfake.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs := readTopic(t, c, topic)
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d committed records after 30s, want %d", topic, len(recs), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readTopic(t *testing.T, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))
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
			t.Fatalf("read %s: still waiting for %v", topic, need)
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

func recordHeader(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestEngineRunsTheInvoiceAggregate runs invoices through the real engine
// on kfake: the events are the rules' (checked against Decide run here),
// undecodable records and key mismatches go to the DLQ, and after a restart
// the state restored from the events topic answers a retry as a duplicate
// and goes on from the right version.
func TestEngineRunsTheInvoiceAggregate(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, tCommands, tEvents, tResults, tDLQ),
		kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	agg, codec := newTestAggregate(t)
	first := startInvoiceEngine(t, c, agg)

	rec := func(key string, cmd *schemas.CommandEnvelope) *kgo.Record {
		r := commandRecord(t, codec, key, cmd)
		r.Topic = tCommands
		return r
	}
	forInvoice := func(id string, cmd *schemas.CommandEnvelope) *schemas.CommandEnvelope {
		cmd.InvoiceID = id
		return cmd
	}
	// Three invoices: inv-a paid, inv-b voided, inv-c left in DRAFT with one
	// line removed; plus a rejection and a retry.
	addA := forInvoice("inv-a", addLine("l1", 12_500))
	cmds := []*schemas.CommandEnvelope{
		forInvoice("inv-a", create("EUR", due)), addA, forInvoice("inv-a", addLine("l2", 500)),
		forInvoice("inv-a", issue()), forInvoice("inv-a", markPaid("pay-1")),
		forInvoice("inv-b", create("USD", due)), forInvoice("inv-b", addLine("x", 99)), forInvoice("inv-b", void("duplicate")),
		forInvoice("inv-c", create("JPY", due)), forInvoice("inv-c", addLine("a", 1000)), forInvoice("inv-c", addLine("b", 2000)),
		forInvoice("inv-c", removeLine("a")),
		forInvoice("inv-c", issue()),         // accepted
		forInvoice("inv-c", addLine("c", 5)), // INVALID_STATE
		addA,                                 // a retry: duplicate
	}
	var recs []*kgo.Record
	for _, cmd := range cmds {
		recs = append(recs, rec(cmd.InvoiceID, cmd))
	}
	garbage := &kgo.Record{Topic: tCommands, Key: []byte("inv-a"), Value: []byte("not avro")}
	mismatch := rec("inv-zzz", forInvoice("inv-c", void("wrong key")))
	recs = append(recs, garbage, mismatch)
	produceRecords(t, c, recs...)

	// The expectation: Decide over the same commands, in order per invoice.
	states := map[string]*schemas.Invoice{}
	want := map[string]*schemas.CommandResult{}
	for _, cmd := range cmds {
		d := Decide(states[cmd.InvoiceID], cmd, t0, Limits{})
		states[cmd.InvoiceID] = d.State
		if _, seen := want[cmd.CommandID]; !seen {
			want[cmd.CommandID] = &d.Result
		} else {
			want[cmd.CommandID+"#retry"] = &d.Result
		}
	}

	results := committed(t, c, tResults, len(cmds))
	if len(results) != len(cmds) {
		t.Fatalf("%d results, want %d", len(results), len(cmds))
	}
	got := map[string]*schemas.CommandResult{}
	for _, r := range results {
		res, err := codec.DecodeResult(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		k := res.CommandID
		if _, seen := got[k]; seen {
			k += "#retry"
		}
		got[k] = res
	}
	for k, w := range want {
		g := got[k]
		if g == nil || g.Accepted != w.Accepted || g.Duplicate != w.Duplicate || g.Reason != w.Reason || g.EventVersion != w.EventVersion {
			t.Errorf("result of %s: %+v, want %+v", k, g, w)
		}
	}

	events := committed(t, c, tEvents, 13)
	last := map[string]*schemas.Invoice{}
	for _, r := range events {
		ev, err := codec.DecodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != ev.AggregateID || recordHeader(r, records.HeaderEventID) != ev.EventID {
			t.Errorf("event %s keyed %q with id header %q", ev.EventID, r.Key, recordHeader(r, records.HeaderEventID))
		}
		last[ev.AggregateID] = ev.State
	}
	if len(events) != 13 {
		t.Errorf("%d events, want 13 (one per accepted command)", len(events))
	}
	for id, w := range states {
		g := last[id]
		if g == nil || g.Status != w.Status || g.TotalMinor != w.TotalMinor || g.Version != w.Version || len(g.Lines) != len(w.Lines) {
			t.Errorf("last state of %s: %s, want %s", id, toJSON(g), toJSON(w))
		}
	}

	dlq := committed(t, c, tDLQ, 2)
	classes := []string{recordHeader(dlq[0], records.HeaderDLQClass), recordHeader(dlq[1], records.HeaderDLQClass)}
	sort.Strings(classes)
	if fmt.Sprint(classes) != fmt.Sprint([]string{records.ClassBadMagic, ClassKeyMismatch}) {
		t.Errorf("DLQ classes %v, want bad-magic and key-mismatch", classes)
	}

	// Restart: the new engine restores the invoices from the events topic.
	first.stop(t)
	startInvoiceEngine(t, c, agg)
	retryPay := cmds[4] // MarkInvoicePaid of inv-a
	next := forInvoice("inv-c", markPaid("pay-9"))
	produceRecords(t, c, rec("inv-a", retryPay), rec("inv-c", next))
	results = committed(t, c, tResults, len(cmds)+2)
	byID := map[string][]*schemas.CommandResult{}
	for _, r := range results {
		res, err := codec.DecodeResult(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		byID[res.CommandID] = append(byID[res.CommandID], res)
	}
	if rs := byID[retryPay.CommandID]; len(rs) != 2 || !rs[1].Duplicate || rs[1].EventVersion != 5 {
		t.Errorf("retry after restart: %+v", rs)
	}
	if rs := byID[next.CommandID]; len(rs) != 1 || !rs[0].Accepted || rs[0].EventVersion != states["inv-c"].Version+1 {
		t.Errorf("paying inv-c after restart: %+v (inv-c was at version %d)", rs, states["inv-c"].Version)
	}
	if n := len(readTopic(t, c, tEvents)); n != 14 {
		t.Errorf("%d events after the restart, want 14 (the retry emits nothing)", n)
	}
}
