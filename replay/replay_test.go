package replay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
)

const (
	src = "ns.payments.commands.dlq"
	dst = "ns.payments.commands"
)

// cluster is a kfake cluster with a 3-partition source and a 3-partition
// target, the source holding n records per partition: key k<p>-<i%3>,
// value v<p>-<i>, prism-type CreatePayment for even i and UpdatePayment
// for odd i, plus an "origin" header, each with timestamp base+i minutes.
type cluster struct {
	opts []kgo.Opt
	cl   *kgo.Client
	base time.Time
	src  []*kgo.Record // as produced, with partition and offset
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, src), kfake.SeedTopics(3, dst), kfake.SeedTopics(1, "other"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	k := &cluster{opts: opts, cl: cl, base: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	for p := int32(0); p < 3; p++ {
		for i := 0; i < n; i++ {
			typ := "CreatePayment"
			if i%2 == 1 {
				typ = "UpdatePayment"
			}
			r := &kgo.Record{Topic: src, Partition: p, Key: []byte(fmt.Sprintf("k%d-%d", p, i%3)),
				Value:     []byte(fmt.Sprintf("v%d-%d\x00\xff", p, i)),
				Timestamp: k.base.Add(time.Duration(i) * time.Minute),
				Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte{0, 1, 2}},
					{Key: records.HeaderType, Value: []byte(typ)}}}
			if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
			k.src = append(k.src, r)
		}
	}
	return k
}

// read returns every record of topic, reading each partition to its end.
func (k *cluster) read(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(k.cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(append(k.opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset >= left[r.Partition]-1 {
				delete(left, r.Partition)
			}
		})
	}
	return out
}

func hdr(r *kgo.Record, key string) string {
	v, _ := header(r, key)
	return v
}

// ids are the source positions the copies name, sorted.
func ids(recs []*kgo.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, hdr(r, records.HeaderReplayPartition)+"@"+hdr(r, records.HeaderReplayOffset))
	}
	sort.Strings(out)
	return out
}

// want lists the source positions selected by keep, sorted.
func (k *cluster) want(keep func(r *kgo.Record, i int) bool) []string {
	var out []string
	for _, r := range k.src {
		if keep(r, int(r.Offset)) {
			out = append(out, fmt.Sprintf("%d@%d", r.Partition, r.Offset))
		}
	}
	sort.Strings(out)
	return out
}

func (k *cluster) run(t *testing.T, cfg Config) Summary {
	t.Helper()
	cfg.Kafka = k.opts
	cfg.IdleTimeout = 500 * time.Millisecond
	if cfg.FromTopic == "" {
		cfg.FromTopic, cfg.ToTopic = src, dst
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return s
}

func ptr(v int64) *int64 { return &v }

func TestReplayCopiesEveryRecordByteForByteWithReplayHeaders(t *testing.T) {
	k := newCluster(t, 6)
	s := k.run(t, Config{})
	got := k.read(t, dst)
	if len(got) != len(k.src) {
		t.Fatalf("%d copies, want %d", len(got), len(k.src))
	}
	bySrc := map[string]*kgo.Record{}
	for _, r := range k.src {
		bySrc[fmt.Sprintf("%d@%d", r.Partition, r.Offset)] = r
	}
	partOfKey := map[string]int32{}
	for _, c := range got {
		o := bySrc[hdr(c, records.HeaderReplayPartition)+"@"+hdr(c, records.HeaderReplayOffset)]
		if o == nil {
			t.Fatalf("copy names an unknown source %s@%s", hdr(c, records.HeaderReplayPartition), hdr(c, records.HeaderReplayOffset))
		}
		if string(c.Key) != string(o.Key) || string(c.Value) != string(o.Value) {
			t.Errorf("copy of %d@%d: %q/%q, want %q/%q", o.Partition, o.Offset, c.Key, c.Value, o.Key, o.Value)
		}
		// The original headers first, unchanged, then the four replay headers.
		if len(c.Headers) != len(o.Headers)+4 {
			t.Fatalf("copy has %d headers, want %d", len(c.Headers), len(o.Headers)+4)
		}
		for i, h := range o.Headers {
			if c.Headers[i].Key != h.Key || string(c.Headers[i].Value) != string(h.Value) {
				t.Errorf("header %d: %s=%q, want %s=%q", i, c.Headers[i].Key, c.Headers[i].Value, h.Key, h.Value)
			}
		}
		if hdr(c, records.HeaderReplayTopic) != src || hdr(c, records.HeaderReplayID) != s.ID || len(s.ID) != 36 {
			t.Errorf("replay headers topic=%q id=%q, want %s and the run's id %s", hdr(c, records.HeaderReplayTopic), hdr(c, records.HeaderReplayID), src, s.ID)
		}
		if p, ok := partOfKey[string(c.Key)]; ok && p != c.Partition {
			t.Errorf("key %s copied to partitions %d and %d", c.Key, p, c.Partition)
		}
		partOfKey[string(c.Key)] = c.Partition
	}
	// Order kept per key: the source offsets of one key's copies rise.
	last := map[string]int64{}
	for _, c := range got {
		off, _ := strconv.ParseInt(hdr(c, records.HeaderReplayOffset), 10, 64)
		if prev, ok := last[string(c.Key)]; ok && off <= prev {
			t.Errorf("key %s: copy of offset %d after %d", c.Key, off, prev)
		}
		last[string(c.Key)] = off
	}
	read, copied, skipped := s.Totals()
	if read != 18 || copied != 18 || skipped != 0 || len(s.Partitions) != 3 {
		t.Errorf("summary read=%d copied=%d skipped=%d partitions=%d, want 18/18/0/3", read, copied, skipped, len(s.Partitions))
	}
	for _, p := range s.Partitions {
		if p.From != 0 || p.To != 6 || p.Copied != 6 {
			t.Errorf("partition %d: [%d,%d) copied %d, want [0,6) 6", p.Partition, p.From, p.To, p.Copied)
		}
	}
	// A second run gets another id.
	if s2 := k.run(t, Config{DryRun: true}); s2.ID == s.ID {
		t.Errorf("two runs share the id %s", s.ID)
	}
}

func TestReplayRangesAndFilters(t *testing.T) {
	k := newCluster(t, 8)
	for _, tc := range []struct {
		name string
		cfg  Config
		keep func(r *kgo.Record, off int) bool
	}{
		{"offsets", Config{FromOffset: ptr(2), ToOffset: ptr(5)}, func(_ *kgo.Record, o int) bool { return o >= 2 && o < 5 }},
		{"offsets past the end", Config{FromOffset: ptr(6), ToOffset: ptr(100)}, func(_ *kgo.Record, o int) bool { return o >= 6 }},
		{"partitions", Config{Partitions: []int32{2, 0}, ToOffset: ptr(3)}, func(r *kgo.Record, o int) bool { return r.Partition != 1 && o < 3 }},
		{"datetime", Config{FromTime: k.base.Add(3 * time.Minute), ToTime: k.base.Add(5*time.Minute + time.Second)},
			func(_ *kgo.Record, o int) bool { return o >= 3 && o <= 5 }},
		{"from datetime only", Config{FromTime: k.base.Add(7 * time.Minute)}, func(_ *kgo.Record, o int) bool { return o >= 7 }},
		{"keys", Config{Keys: []string{"k1-0", "k2-2"}}, func(r *kgo.Record, _ int) bool { return string(r.Key) == "k1-0" || string(r.Key) == "k2-2" }},
		{"type", Config{Types: []string{"UpdatePayment"}}, func(_ *kgo.Record, o int) bool { return o%2 == 1 }},
		{"key and type", Config{Keys: []string{"k0-0"}, Types: []string{"CreatePayment"}}, func(r *kgo.Record, o int) bool { return string(r.Key) == "k0-0" && o%2 == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dry := tc.cfg
			dry.DryRun = true
			before := len(k.read(t, dst))
			ds := k.run(t, dry)
			if n := len(k.read(t, dst)) - before; n != 0 {
				t.Fatalf("dry run wrote %d records", n)
			}
			s := k.run(t, tc.cfg)
			got := k.read(t, dst)
			var mine []*kgo.Record
			for _, r := range got {
				if hdr(r, records.HeaderReplayID) == s.ID {
					mine = append(mine, r)
				}
			}
			want := k.want(tc.keep)
			if strings.Join(ids(mine), " ") != strings.Join(want, " ") {
				t.Errorf("copied %v\nwant     %v", ids(mine), want)
			}
			_, copied, _ := s.Totals()
			_, would, _ := ds.Totals()
			if copied != int64(len(want)) || would != int64(len(want)) {
				t.Errorf("summary copied=%d, dry run would copy %d, want %d", copied, would, len(want))
			}
			for i, p := range s.Partitions {
				if p.Read != p.Copied+p.Skipped {
					t.Errorf("partition %d: read %d != copied %d + skipped %d", p.Partition, p.Read, p.Copied, p.Skipped)
				}
				if ds.Partitions[i] != p {
					t.Errorf("partition %d: dry run %+v, run %+v", p.Partition, ds.Partitions[i], p)
				}
			}
		})
	}
}

func TestReplayLimit(t *testing.T) {
	k := newCluster(t, 5)
	s := k.run(t, Config{Limit: 7, Types: []string{"CreatePayment"}})
	got := k.read(t, dst)
	read, copied, skipped := s.Totals()
	if len(got) != 7 || copied != 7 || !s.LimitReached {
		t.Errorf("copied %d (summary %d, limit reached %v), want 7 and true", len(got), copied, s.LimitReached)
	}
	if read != copied+skipped {
		t.Errorf("read %d != copied %d + skipped %d", read, copied, skipped)
	}
	for _, r := range got {
		if hdr(r, records.HeaderType) != "CreatePayment" {
			t.Errorf("copied a %s", hdr(r, records.HeaderType))
		}
	}
	// A limit above what there is copies everything.
	s = k.run(t, Config{Limit: 100, DryRun: true})
	if _, c, _ := s.Totals(); c != 15 || s.LimitReached {
		t.Errorf("limit 100: would copy %d (limit reached %v), want 15, false", c, s.LimitReached)
	}
}

func TestReplayStopsAtTheEndListedAtStart(t *testing.T) {
	k := newCluster(t, 3)
	// Records appended while the run reads are not copied: OnPlan appends
	// them after the ends were listed.
	cfg := Config{OnPlan: func(string, []Range) {
		for p := int32(0); p < 3; p++ {
			r := &kgo.Record{Topic: src, Partition: p, Key: []byte("late"), Value: []byte("late")}
			if err := k.cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Error(err)
			}
		}
	}}
	s := k.run(t, cfg)
	got := k.read(t, dst)
	if len(got) != 9 {
		t.Errorf("copied %d, want the 9 records there at start", len(got))
	}
	for _, r := range got {
		if string(r.Key) == "late" {
			t.Errorf("copied a record appended after the start (offset %s)", hdr(r, records.HeaderReplayOffset))
		}
	}
	if _, c, _ := s.Totals(); c != 9 {
		t.Errorf("summary copied %d, want 9", c)
	}
}

func TestReplayEmptySourceAndEmptyRange(t *testing.T) {
	k := newCluster(t, 2)
	s := k.run(t, Config{FromTopic: "other", ToTopic: dst})
	if r, c, _ := s.Totals(); r != 0 || c != 0 || len(s.Partitions) != 1 {
		t.Errorf("empty topic: read %d copied %d partitions %d", r, c, len(s.Partitions))
	}
	s = k.run(t, Config{FromOffset: ptr(50)})
	if r, _, _ := s.Totals(); r != 0 {
		t.Errorf("range past the end read %d", r)
	}
}

func TestReplayRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		refused bool
		want    []string
	}{
		{"same topic", Config{FromTopic: dst, ToTopic: dst}, true, []string{"both " + dst}},
		{"events onto itself", Config{FromTopic: "prism.payments.events", ToTopic: "prism.payments.events"}, true, []string{"resurrect"}},
		{"events onto other events", Config{FromTopic: "prism.payments.events", ToTopic: "backup.events"}, true, []string{"resurrect deleted", "ends in .events"}},
		{"anything onto an events topic", Config{FromTopic: "prism.payments.events.dlq", ToTopic: "ns-2.invoices.events"}, true, []string{"only the processor writes it"}},
		{"offsets and times", Config{FromTopic: src, ToTopic: dst, FromOffset: ptr(1), ToTime: time.Now()}, false, []string{"give one of them"}},
		{"bad offsets", Config{FromTopic: src, ToTopic: dst, FromOffset: ptr(5), ToOffset: ptr(5)}, false, []string{"not after --from-offset"}},
		{"bad times", Config{FromTopic: src, ToTopic: dst, FromTime: time.Unix(10, 0), ToTime: time.Unix(5, 0)}, false, []string{"not after --from-datetime"}},
		{"every problem at once", Config{Partitions: []int32{1, 1, -1}, Limit: -1}, false,
			[]string{"--from-topic is empty", "--to-topic is empty", "given twice", "--from-partitions -1", "--limit -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if errors.Is(err, ErrRefused) != tc.refused {
				t.Errorf("errors.Is(ErrRefused) = %v, want %v: %v", !tc.refused, tc.refused, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// Commands DLQ → commands, events → a topic not ending in .events (a
	// backup), a topic merely named like events: allowed.
	for _, ok := range []Config{
		{FromTopic: src, ToTopic: dst},
		{FromTopic: "prism.payments.events", ToTopic: "prism.payments.events-backup"},
		{FromTopic: "prism.payments.events.dlq", ToTopic: "prism.payments.commands"},
		{FromTopic: "my.Events", ToTopic: "other"},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%s -> %s refused: %v", ok.FromTopic, ok.ToTopic, err)
		}
	}
	for name, want := range map[string]bool{
		"prism.payments.events": true, "t-1.invoices.events": true, "prism.payments.events.dlq": false,
		"x.events": false, "Prism.payments.events": false, "a.b.c.events": false, "prism.pay-ments.events": false,
	} {
		if IsEventsTopic(name) != want {
			t.Errorf("IsEventsTopic(%q) = %v, want %v", name, !want, want)
		}
	}
}

func TestReplayMissingTopics(t *testing.T) {
	k := newCluster(t, 1)
	for _, tc := range []struct{ from, to, missing string }{
		{"nope", dst, "nope"}, {src, "gone", "gone"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := Run(ctx, Config{Kafka: k.opts, FromTopic: tc.from, ToTopic: tc.to})
		cancel()
		if !errors.Is(err, ErrTopicNotFound) || !strings.Contains(err.Error(), tc.missing) {
			t.Errorf("%s -> %s: %v, want ErrTopicNotFound naming %s", tc.from, tc.to, err, tc.missing)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Run(ctx, Config{Kafka: k.opts, FromTopic: src, ToTopic: dst, Partitions: []int32{7}}); err == nil || !strings.Contains(err.Error(), "--from-partitions 7") {
		t.Errorf("unknown partition: %v", err)
	}
}

func TestReplayInterruptedReportsWhatWasCopied(t *testing.T) {
	k := newCluster(t, 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	s, err := Run(ctx, Config{Kafka: k.opts, FromTopic: src, ToTopic: dst, IdleTimeout: time.Second,
		OnRead: func() {
			if n++; n == 10 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) || !s.Interrupted {
		t.Fatalf("err %v interrupted %v, want context.Canceled and true", err, s.Interrupted)
	}
	_, copied, _ := s.Totals()
	got := k.read(t, dst)
	if int64(len(got)) != copied || copied == 0 || copied == 60 {
		t.Errorf("summary copied %d, target holds %d: want equal, and neither 0 nor all 60", copied, len(got))
	}
}

// TestReplayTransactionalSource reads a source written in transactions,
// committed and aborted, the last one aborted: only committed records are
// copied, and the run ends at the end offset (the abort marker) at once,
// not after the idle timeout.
func TestReplayTransactionalSource(t *testing.T) {
	k := newCluster(t, 0)
	txn, err := kgo.NewClient(append(k.opts, kgo.TransactionalID("replay-test"), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var want []string
	for i, commit := range []bool{true, false, true, false} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 3; j++ {
			v := fmt.Sprintf("t%d-%d", i, j)
			if err := txn.ProduceSync(ctx, &kgo.Record{Topic: src, Partition: 1, Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if commit {
				want = append(want, v)
			}
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	s, err := Run(ctx, Config{Kafka: k.opts, FromTopic: src, ToTopic: dst, IdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run took %s: it waited for the idle timeout instead of seeing the end", d)
	}
	var got []string
	for _, r := range k.read(t, dst) {
		got = append(got, string(r.Value))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("copied %v, want the committed %v", got, want)
	}
	if read, copied, _ := s.Totals(); read != 6 || copied != 6 {
		t.Errorf("summary read %d copied %d, want 6 and 6", read, copied)
	}
}
