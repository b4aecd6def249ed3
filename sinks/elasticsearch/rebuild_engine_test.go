package elasticsearch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/records"
)

// widgetRecord is a widget event as the engine test puts it on the topic.
type widgetRecord struct {
	ID    string `json:"id"`
	Rev   int64  `json:"rev"`
	Count int64  `json:"count"`
	Gone  bool   `json:"gone"`
}

// widgetCodec decodes widgetRecord values (the test's events topic).
type widgetCodec struct{}

func (widgetCodec) DecodeEvent(value []byte) (*records.Event, error) {
	var r widgetRecord
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, err
	}
	born := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	w := &widget{Name: r.ID, Count: r.Count, Born: born, Rev: r.Rev}
	return widgetEvent(0, r.ID, r.Rev, map[bool]*widget{false: w, true: nil}[r.Gone]).Envelope, nil
}

// TestStoreWithTheRebuildEngine runs the rebuild engine (rebuild.Executor)
// on the store, the real broker and the real Elasticsearch. 60 widgets on
// two partitions, two revisions each, six scrapped; the expectation is
// folded from the produced records alone. In place from the log start
// after the index was dropped by hand: the alias holds the expectation. In
// place with --shift-by -20 after documents of the range were changed and
// deleted by hand (and one outside it changed): the range's documents are
// right again, the one outside untouched. Side by side while a goroutine
// searches the alias: no failed search, every count one of the two
// versions', version 2 current, version 1 dropped, the alias holds the
// expectation.
func TestStoreWithTheRebuildEngine(t *testing.T) {
	ctx := testkit.Context(t, 3*time.Minute)
	e := newRebuildEnv(t)
	topic, group := e.names.EventsTopic(), e.names.SinkGroup("elasticsearch")
	cl, err := kgo.NewClient(kgo.SeedBrokers(testkit.KafkaBrokers(t)...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	admin := kadm.NewClient(cl)
	if _, err := admin.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.DeleteTopics(ctx, topic)
		_, _ = admin.DeleteGroups(ctx, group)
	})

	want := map[string][2]int64{} // id -> count, rev
	var recs []*kgo.Record
	add := func(i int, rev, count int64, gone bool) {
		r := widgetRecord{ID: fmt.Sprintf("w%d", i), Rev: rev, Count: count, Gone: gone}
		v, _ := json.Marshal(r)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: []byte(r.ID), Value: v})
		if gone {
			delete(want, r.ID)
		} else {
			want[r.ID] = [2]int64{count, rev}
		}
	}
	for rev := int64(1); rev <= 2; rev++ {
		for i := range 60 {
			add(i, rev, rev*10+int64(i), false)
		}
	}
	for i := 0; i < 60; i += 10 {
		add(i, 3, 0, true)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	exec := &rebuild.Executor{Store: e.store, KafkaOpts: []kgo.Opt{kgo.SeedBrokers(testkit.KafkaBrokers(t)...)}, Admin: admin,
		Namespace: e.names.Namespace, Aggregate: "widgets", Topic: topic, Group: group, Codec: widgetCodec{}, BatchMaxRecords: 7}
	docs := func() map[string][2]int64 {
		t.Helper()
		out := map[string][2]int64{}
		for id, d := range e.widgetDocs(t, ctx, e.alias) {
			out[id] = [2]int64{d[0], d[1]}
		}
		return out
	}
	check := func(what string, want map[string][2]int64) {
		t.Helper()
		if got := docs(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: alias holds %d documents %v\nwant %d: %v", what, len(got), got, len(want), want)
		}
	}
	plan := func(flag, value string) rebuild.Plan {
		t.Helper()
		spec, err := rebuild.ParseSpec(flag, value)
		if err != nil {
			t.Fatal(err)
		}
		p, err := rebuild.MakePlan(ctx, admin, topic, group, spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hand := func(method, id string, body any) {
		t.Helper()
		if st, err := e.es.call(ctx, method, "/"+e.alias+"/_doc/"+id, body, nil); err != nil || st >= 300 {
			t.Fatalf("%s %s by hand: %d %v", method, id, st, err)
		}
	}

	// A live sink wrote something wrong, then the index was dropped.
	write(t, ctx, e.liveTarget(t, ctx), widgets("zombie", 3, 0, 1, 1))
	if st, err := e.es.call(ctx, http.MethodDelete, "/"+e.names.ElasticsearchIndex(1), nil, nil); err != nil || st != http.StatusOK {
		t.Fatalf("drop the index: %d %v", st, err)
	}
	if _, err := exec.InPlace(ctx, plan(rebuild.FlagToEarliest, ""), nil); err != nil {
		t.Fatal(err)
	}
	check("in place from the log start after the index was dropped", want)

	// Changed and deleted by hand: w40 and w41 (their second revision is
	// in the last 20 records of their partitions), w1 (outside).
	hand(http.MethodPut, "w40", map[string]any{"name": "hacked", "count": 999, "rev": 9})
	hand(http.MethodDelete, "w41", nil)
	hand(http.MethodPut, "w1", map[string]any{"name": "hacked", "count": 999, "rev": 9})
	if _, err := exec.InPlace(ctx, plan(rebuild.FlagShiftBy, "-20"), nil); err != nil {
		t.Fatal(err)
	}
	wantHacked := map[string][2]int64{"w1": {999, 9}}
	for id, w := range want {
		if _, ok := wantHacked[id]; !ok {
			wantHacked[id] = w
		}
	}
	check("in place from --shift-by -20", wantHacked)

	// Side by side, one document fewer in version 1 than in the log.
	hand(http.MethodDelete, "w7", nil)
	if _, err := e.es.call(ctx, http.MethodPost, "/"+e.alias+"/_refresh", nil, nil); err != nil {
		t.Fatal(err)
	}
	rd := startReader(ctx, e, len(want)-1, len(want))
	time.Sleep(200 * time.Millisecond)
	if _, err := exec.SideBySide(ctx, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	rd.finish(t, len(want)-1, len(want))
	e.wantCurrent(t, ctx, 2)
	e.wantVersions(t, ctx, 2)
	check("side by side", want)
}
