package lag

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSettleMarkersKeepsTheLagOfASilentRead: a broker that does not answer
// within the wait (down, or a machine too busy: the failed 200,000-command
// chaos run of docs/chaos.md) proves nothing. The rows must keep their raw
// lag, marked Unsettled, so that `prism lag --max-lag 0` does not pass
// while a sink is thousands of records behind. (SettleMarkers used to set
// the lag of every row it could not read to 0.)
func TestSettleMarkersKeepsTheLagOfASilentRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	rows := []Row{
		{Group: "behind", Topic: "t", Partition: 0, Committed: 10, End: 60_010, Lag: 60_000},
		{Group: "behind", Topic: "t", Partition: 1, Committed: 5, End: 6, Lag: 1},
		{Group: "caught-up", Topic: "t", Partition: 0, Committed: 60_010, End: 60_010, Lag: 0},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := SettleMarkers(ctx, []kgo.Opt{kgo.SeedBrokers(ln.Addr().String())}, rows, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r.Lag != rows[i].Lag {
			t.Errorf("%s/%d: lag %d after a silent read, want the raw %d", r.Group, r.Partition, r.Lag, rows[i].Lag)
		}
		if want := rows[i].Lag > 0; r.Unsettled != want {
			t.Errorf("%s/%d: Unsettled = %v, want %v", r.Group, r.Partition, r.Unsettled, want)
		}
	}
	if tot := Total(got); tot["behind"] != 60_001 || CaughtUp(got, []string{"behind"}) {
		t.Errorf("total lag of the group behind = %d (caught up: %v), want 60001 and not caught up", tot["behind"], CaughtUp(got, []string{"behind"}))
	}
}
