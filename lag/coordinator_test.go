package lag

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeWaitsForAFreshCoordinator: on a fresh cluster the group
// coordinator answers COORDINATOR_NOT_AVAILABLE for a while (Kafka creates
// __consumer_offsets on the first request); `prism lag` must report the
// never-run group as Dead, not fail.
func TestDescribeWaitsForAFreshCoordinator(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refused := 0
	until := time.Now().Add(1500 * time.Millisecond)
	c.ControlKey(kmsg.FindCoordinator.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if time.Now().After(until) {
			return nil, nil, false
		}
		refused++
		req := kreq.(*kmsg.FindCoordinatorRequest)
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		for _, k := range req.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key = k
			rc.ErrorCode = kerr.CoordinatorNotAvailable.Code
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil, true
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RetryTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rows, err := Describe(ctx, kadm.NewClient(cl), "never-ran")
	if err != nil {
		t.Fatalf("Describe on a fresh coordinator: %v", err)
	}
	if refused == 0 {
		t.Fatal("the coordinator was never refused: the test shows nothing")
	}
	if len(rows) != 1 || rows[0].Group != "never-ran" || rows[0].State != "Dead" {
		t.Fatalf("rows = %+v, want the group as Dead", rows)
	}
}
