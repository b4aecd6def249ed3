package lag

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/metricslint"
	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestCollectorExportsWhatLagPrints: on a scrape, a group that never
// committed lags by every record of its topic, a group that committed by
// what is past its offset (a group outside the pipeline too, on the topic
// it committed to); prism_lag_up is 1. Once the cluster is gone,
// a scrape has no lag sample and prism_lag_up 0.
func TestCollectorExportsWhatLagPrints(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "n.payments.commands"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.RetryTimeout(2 * time.Second)}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for _, p := range []int32{0, 0, 0, 1} {
		recs = append(recs, &kgo.Record{Topic: "n.payments.commands", Partition: p, Value: []byte("x")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	var off kadm.Offsets
	off.Add(kadm.Offset{Topic: "n.payments.commands", Partition: 0, At: 3, LeaderEpoch: -1})
	off.Add(kadm.Offset{Topic: "n.payments.commands", Partition: 1, At: 0, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "n.committed", off); err != nil {
		t.Fatal(err)
	}

	var other kadm.Offsets
	other.Add(kadm.Offset{Topic: "n.payments.commands", Partition: 0, At: 1, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "n.other", other); err != nil {
		t.Fatal(err)
	}

	groups := []Group{
		{Aggregate: "payment", Name: "n.processor.payments", Reads: "n.payments.commands"},
		{Aggregate: "payment", Name: "n.committed", Reads: "n.payments.commands"},
		{Name: "n.other"}, // --group outside the pipeline
	}
	runCtx, stop := context.WithCancel(ctx)
	log := &testkit.LogBuffer{}
	col, err := NewCollector(runCtx, CollectorConfig{Admin: adm, Opts: opts, Groups: groups, Timeout: 8 * time.Second,
		Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := metricslint.NewRecorder()
	r.MustRegister(col)
	want := `
# HELP prism_group_lag_records Records a consumer group of the pipeline has not read yet, per partition of the topic it reads, as ` + "`prism lag`" + ` computes it (commit markers settled; a group that never committed counts from the log start).
# TYPE prism_group_lag_records gauge
prism_group_lag_records{aggregate="",group="n.other",partition="0"} 2
prism_group_lag_records{aggregate="",group="n.other",partition="1"} 1
prism_group_lag_records{aggregate="payment",group="n.committed",partition="0"} 0
prism_group_lag_records{aggregate="payment",group="n.committed",partition="1"} 1
prism_group_lag_records{aggregate="payment",group="n.processor.payments",partition="0"} 3
prism_group_lag_records{aggregate="payment",group="n.processor.payments",partition="1"} 1
# HELP prism_lag_up 1 when the last lag measure reached the cluster, 0 when it failed (the error is logged).
# TYPE prism_lag_up gauge
prism_lag_up 1
`
	if err := testutil.GatherAndCompare(r, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if err := metricslint.Verify(r, metricslint.Options{}); err != nil {
		t.Error(err)
	}

	stop() // the command's context is done: no more measure
	down := `
# HELP prism_lag_up 1 when the last lag measure reached the cluster, 0 when it failed (the error is logged).
# TYPE prism_lag_up gauge
prism_lag_up 0
`
	if err := testutil.GatherAndCompare(r, strings.NewReader(down), "prism_lag_up", "prism_group_lag_records"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(log.String(), "level=WARN msg=\"measure lag\"") {
		t.Errorf("the failed measure was not logged:\n%s", log)
	}

	if _, err := NewCollector(ctx, CollectorConfig{}); err == nil || !strings.Contains(err.Error(), "Admin is nil") || !strings.Contains(err.Error(), "no group") {
		t.Errorf("NewCollector of an empty config: %v, want both problems", err)
	}
}
