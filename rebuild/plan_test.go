package rebuild

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// history is a topic on the real broker with records whose timestamps the
// test chose: partition p holds counts[p] records, record i stamped
// base + i days.
type history struct {
	topic  string
	cl     *kgo.Client
	adm    *kadm.Client
	base   time.Time
	counts []int
}

func newHistory(t *testing.T, ctx context.Context, base time.Time, counts ...int) *history {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(testkit.KafkaBrokers(t)...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	h := &history{topic: testkit.Namespace(t) + "-events", cl: cl, adm: kadm.NewClient(cl), base: base, counts: counts}
	retain := "-1" // records stamped weeks ago must not age out mid-test
	if _, err := h.adm.CreateTopic(ctx, int32(len(counts)), -1, map[string]*string{"retention.ms": &retain}, h.topic); err != nil {
		t.Fatalf("create %s: %v", h.topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = h.adm.DeleteTopic(ctx, h.topic)
	})
	var recs []*kgo.Record
	for p, n := range counts {
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{
				Topic: h.topic, Partition: int32(p), Key: []byte(fmt.Sprintf("k%d", i)),
				Value: []byte("v"), Timestamp: h.stamp(i),
			})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", h.topic, err)
	}
	return h
}

// stamp is the timestamp of record i of every partition.
func (h *history) stamp(i int) time.Time { return h.base.Add(time.Duration(i) * 24 * time.Hour) }

// listOffsets is the test's own ListOffsets request, straight to the
// broker (not through kadm): per partition, the offset the broker answers
// for timestamp (-2 log start, -1 end, else the first at or after it; -1
// when there is none) at the isolation level (1: read_committed).
func (h *history) listOffsets(t *testing.T, ctx context.Context, timestamp int64, isolation int8) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = h.topic
	for p := range h.counts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = int32(p)
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = timestamp
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, h.cl)
	if err != nil {
		t.Fatalf("ListOffsets %d: %v", timestamp, err)
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("ListOffsets %d on %d: %v", timestamp, rp.Partition, err)
			}
			out[rp.Partition] = rp.Offset
		}
	}
	if len(out) != len(h.counts) {
		t.Fatalf("ListOffsets %d answered %d partitions, want %d", timestamp, len(out), len(h.counts))
	}
	return out
}

// expected is the plan's rows computed from direct ListOffsets answers:
// from(p) is the offset asked for, clamped here to [log start, end].
func (h *history) expected(t *testing.T, ctx context.Context, from func(p int32, start, end int64) int64) []PartitionPlan {
	t.Helper()
	starts := h.listOffsets(t, ctx, -2, 1)
	ends := h.listOffsets(t, ctx, -1, 1)
	var out []PartitionPlan
	for p := range h.counts {
		pp := PartitionPlan{Partition: int32(p), LogStart: starts[int32(p)], To: ends[int32(p)]}
		pp.From = max(pp.LogStart, min(pp.To, from(int32(p), pp.LogStart, pp.To)))
		pp.Records = pp.To - pp.From
		out = append(out, pp)
	}
	return out
}

// sameRanges compares the offsets of got with want (not notes).
func sameRanges(t *testing.T, spec Spec, got Plan, want []PartitionPlan) {
	t.Helper()
	if len(got.Partitions) != len(want) {
		t.Fatalf("%s: %d partitions planned, want %d: %+v", spec, len(got.Partitions), len(want), got.Partitions)
	}
	var total int64
	for i, w := range want {
		g := got.Partitions[i]
		if g.Partition != w.Partition || g.From != w.From || g.To != w.To || g.Records != w.Records || g.LogStart != w.LogStart {
			t.Errorf("%s: partition %d planned %+v, want from %d to %d records %d log start %d",
				spec, w.Partition, g, w.From, w.To, w.Records, w.LogStart)
		}
		total += w.Records
	}
	if got.Total() != total {
		t.Errorf("%s: total %d, want %d", spec, got.Total(), total)
	}
}

// TestPlanMatchesListOffsets: every spec resolves to what a direct
// ListOffsets call gives, clamped to [log start, end], and to what the
// test's own record of the timestamps says.
func TestPlanMatchesListOffsets(t *testing.T) {
	ctx := testkit.Context(t, 60*time.Second)
	now := time.Now()
	// Record i of every partition is stamped now - 10.5 days + i days: the
	// last of 10 is a day and a half old; P7D falls half a day from any.
	h := newHistory(t, ctx, now.Add(-252*time.Hour), 10, 6, 0)
	// Raise partition 0's log start to 2, so earliest is not offset 0.
	if _, err := h.adm.DeleteRecords(ctx, kadm.Offsets{h.topic: {0: {Topic: h.topic, Partition: 0, At: 2}}}); err != nil {
		t.Fatalf("delete records: %v", err)
	}
	// first is the test's own model: the first offset of partition p
	// stamped at or after at (its count when none is).
	first := func(p int32, at time.Time) int64 {
		for i := 0; i < h.counts[p]; i++ {
			if !h.stamp(i).Before(at) {
				return int64(i)
			}
		}
		return int64(h.counts[p])
	}
	byTime := func(at time.Time) func(p int32, start, end int64) int64 {
		direct := h.listOffsets(t, ctx, at.UnixMilli(), 0)
		return func(p int32, start, end int64) int64 {
			o := direct[p]
			if o < 0 {
				o = end // no record at or after: the end, as Kafka resets
			}
			if model := max(start, first(p, at)); o != model {
				t.Errorf("partition %d at %s: broker says %d, the produced stamps say %d", p, at, o, model)
			}
			return o
		}
	}
	middle := h.stamp(3).Add(12 * time.Hour)
	tests := []struct {
		spec Spec
		from func(p int32, start, end int64) int64
		want []int64 // the from offsets by the test's own reckoning
	}{
		{Spec{Kind: ToEarliest}, func(_ int32, start, _ int64) int64 { return start }, []int64{2, 0, 0}},
		{Spec{Kind: ToLatest}, func(_ int32, _, end int64) int64 { return end }, []int64{10, 6, 0}},
		{Spec{Kind: ToDatetime, At: middle}, byTime(middle), []int64{4, 4, 0}},
		{Spec{Kind: ToDatetime, At: h.base.Add(-time.Hour)}, byTime(h.base.Add(-time.Hour)), []int64{2, 0, 0}},
		{Spec{Kind: ToDatetime, At: now.Add(time.Hour)}, byTime(now.Add(time.Hour)), []int64{10, 6, 0}},
		{Spec{Kind: ToDatetime, At: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, func(_ int32, start, _ int64) int64 { return start }, []int64{2, 0, 0}},
		{Spec{Kind: ByDuration, Duration: 30000 * 24 * time.Hour}, func(_ int32, start, _ int64) int64 { return start }, []int64{2, 0, 0}},
		{Spec{Kind: ByDuration, Duration: 7 * 24 * time.Hour}, byTime(now.Add(-7 * 24 * time.Hour)), []int64{4, 4, 0}},
		{Spec{Kind: ToOffset, Offset: 1}, func(int32, int64, int64) int64 { return 1 }, []int64{2, 1, 0}},
		{Spec{Kind: ToOffset, Offset: 7}, func(int32, int64, int64) int64 { return 7 }, []int64{7, 6, 0}},
	}
	for _, tt := range tests {
		got, err := MakePlan(ctx, h.adm, h.topic, "", tt.spec, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		if got.Topic != h.topic || got.Spec != tt.spec.String() {
			t.Errorf("%s: plan of %q spec %q", tt.spec, got.Topic, got.Spec)
		}
		want := h.expected(t, ctx, tt.from)
		for p, f := range tt.want {
			if want[p].From != f {
				t.Fatalf("%s: partition %d: ListOffsets says from %d, the test's reckoning %d", tt.spec, p, want[p].From, f)
			}
		}
		sameRanges(t, tt.spec, got, want)
	}
}

// TestPlanShiftByClamps: --shift-by moves each partition from the group's
// committed offset and clamps to [log start, end] both ways, marking what
// it clamped; a partition the group never committed is refused.
func TestPlanShiftByClamps(t *testing.T) {
	ctx := testkit.Context(t, 60*time.Second)
	h := newHistory(t, ctx, monthAgo(), 10, 6, 0)
	if _, err := h.adm.DeleteRecords(ctx, kadm.Offsets{h.topic: {0: {Topic: h.topic, Partition: 0, At: 2}}}); err != nil {
		t.Fatalf("delete records: %v", err)
	}
	group := h.topic + "-sink"
	committed := map[int32]int64{0: 5, 1: 1, 2: 0}
	offs := kadm.Offsets{}
	for p, o := range committed {
		offs.Add(kadm.Offset{Topic: h.topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	if resp, err := h.adm.CommitOffsets(ctx, group, offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit %v for %s: %v %v", committed, group, err, resp.Error())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = h.adm.DeleteGroup(ctx, group)
	})
	tests := []struct {
		shift   int64
		want    []int64  // from, by the test's own reckoning (log start 2/0/0, end 10/6/0)
		clamped []string // per partition
	}{
		{-3, []int64{2, 0, 0}, []string{"", "log start", "log start"}},
		{-4, []int64{2, 0, 0}, []string{"log start", "log start", "log start"}},
		{+3, []int64{8, 4, 0}, []string{"", "", "end"}},
		{+100, []int64{10, 6, 0}, []string{"end", "end", "end"}},
		{0, []int64{5, 1, 0}, []string{"", "", ""}},
	}
	for _, tt := range tests {
		spec := Spec{Kind: ShiftBy, Shift: tt.shift}
		got, err := MakePlan(ctx, h.adm, h.topic, group, spec, nil)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		want := h.expected(t, ctx, func(p int32, _, _ int64) int64 { return committed[p] + tt.shift })
		for p, f := range tt.want {
			if want[p].From != f {
				t.Fatalf("%s: partition %d: ListOffsets says from %d, the test's reckoning %d", spec, p, want[p].From, f)
			}
		}
		sameRanges(t, spec, got, want)
		if got.Group != group {
			t.Errorf("%s: plan group %q, want %q", spec, got.Group, group)
		}
		for p, pp := range got.Partitions {
			if pp.Clamped != tt.clamped[p] {
				t.Errorf("%s: partition %d clamped %q, want %q", spec, p, pp.Clamped, tt.clamped[p])
			}
			if pp.Committed == nil || *pp.Committed != committed[int32(p)] {
				t.Errorf("%s: partition %d committed %v, want %d", spec, p, pp.Committed, committed[int32(p)])
			}
		}
	}

	// A group that committed only partition 0 cannot shift the others.
	partial := h.topic + "-partial"
	one := kadm.Offsets{}
	one.Add(kadm.Offset{Topic: h.topic, Partition: 0, At: 4, LeaderEpoch: -1})
	if _, err := h.adm.CommitOffsets(ctx, partial, one); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = h.adm.DeleteGroup(ctx, partial)
	})
	_, err := MakePlan(ctx, h.adm, h.topic, partial, Spec{Kind: ShiftBy, Shift: -1}, nil)
	if !errors.Is(err, ErrNoCommittedOffset) || !strings.Contains(err.Error(), "[1 2]") {
		t.Fatalf("shift-by with partitions never committed: %v, want ErrNoCommittedOffset naming [1 2]", err)
	}
	got, err := MakePlan(ctx, h.adm, h.topic, partial, Spec{Kind: ShiftBy, Shift: -1}, []int32{0})
	if err != nil || len(got.Partitions) != 1 || got.Partitions[0].From != 3 {
		t.Fatalf("shift-by -1 on the committed partition 0 = %+v, %v; want from 3", got.Partitions, err)
	}
}

// TestPlanPartitionsAndToOffset: --partitions narrows the plan; a
// --to-offset past the end is clamped to it (as Kafka does) and marked;
// unknown partitions and topics are refused.
func TestPlanPartitionsAndToOffset(t *testing.T) {
	ctx := testkit.Context(t, 60*time.Second)
	h := newHistory(t, ctx, monthAgo(), 10, 6, 3)
	spec := Spec{Kind: ToOffset, Offset: 100}
	got, err := MakePlan(ctx, h.adm, h.topic, "", spec, []int32{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	ends := h.listOffsets(t, ctx, -1, 1)
	if len(got.Partitions) != 2 || got.Partitions[0].Partition != 1 || got.Partitions[1].Partition != 2 {
		t.Fatalf("--partitions 2,1 planned %+v, want partitions 1 and 2 in order", got.Partitions)
	}
	for _, pp := range got.Partitions {
		if pp.From != ends[pp.Partition] || pp.To != ends[pp.Partition] || pp.Records != 0 || pp.Clamped != "end" {
			t.Errorf("--to-offset 100 on partition %d = %+v, want from = to = %d, clamped to end", pp.Partition, pp, ends[pp.Partition])
		}
	}
	got, err = MakePlan(ctx, h.adm, h.topic, "", Spec{Kind: ToOffset, Offset: 4}, []int32{0})
	if err != nil || len(got.Partitions) != 1 || got.Partitions[0].From != 4 || got.Partitions[0].Records != 6 || got.Partitions[0].Clamped != "" {
		t.Fatalf("--to-offset 4 --partitions 0 = %+v, %v; want from 4, 6 records", got.Partitions, err)
	}
	if _, err := MakePlan(ctx, h.adm, h.topic, "", Spec{}, []int32{7}); !errors.Is(err, ErrUnknownPartition) {
		t.Errorf("partition 7 of a 3-partition topic: %v, want ErrUnknownPartition", err)
	}
	if _, err := MakePlan(ctx, h.adm, h.topic, "", Spec{Kind: ShiftBy, Shift: -1}, nil); err == nil || !strings.Contains(err.Error(), "group") {
		t.Errorf("--shift-by without a group: %v, want an error asking for the group", err)
	}
	if _, err := MakePlan(ctx, h.adm, h.topic+"-missing", "", Spec{}, nil); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("missing topic: %v, want ErrUnknownTopic", err)
	}
}

// TestPlanEndsAtLastStableOffset: while a transaction is open the plan
// ends at the last stable offset (what a read_committed rebuild can read),
// not the high watermark, also for a datetime after the last record.
func TestPlanEndsAtLastStableOffset(t *testing.T) {
	ctx := testkit.Context(t, 60*time.Second)
	h := newHistory(t, ctx, monthAgo(), 5)
	txn, err := kgo.NewClient(kgo.SeedBrokers(testkit.KafkaBrokers(t)...), kgo.TransactionalID(h.topic+"-txn"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = txn.EndTransaction(ctx, kgo.TryAbort)
	}()
	var open []*kgo.Record
	for i := 0; i < 3; i++ {
		open = append(open, &kgo.Record{Topic: h.topic, Value: []byte("open"), Timestamp: h.stamp(10 + i)})
	}
	if err := txn.ProduceSync(ctx, open...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lso := h.listOffsets(t, ctx, -1, 1)[0]
	hwm := h.listOffsets(t, ctx, -1, 0)[0]
	if lso != 5 || hwm != 8 {
		t.Fatalf("setup: last stable offset %d, high watermark %d; want 5 and 8", lso, hwm)
	}
	for _, spec := range []Spec{{Kind: ToEarliest}, {Kind: ToLatest}, {Kind: ToDatetime, At: h.stamp(11)}, {Kind: ToOffset, Offset: 7}} {
		got, err := MakePlan(ctx, h.adm, h.topic, "", spec, nil)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		pp := got.Partitions[0]
		wantFrom := int64(0)
		if spec.Kind != ToEarliest {
			wantFrom = lso
		}
		if pp.To != lso || pp.From != wantFrom || pp.Records != lso-wantFrom {
			t.Errorf("%s with an open transaction = %+v, want from %d to %d (the last stable offset)", spec, pp, wantFrom, lso)
		}
	}
}

// monthAgo is a base for record stamps safely in the past whatever the
// clock says (a broker may refuse stamps from the future).
func monthAgo() time.Time { return time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Hour) }
