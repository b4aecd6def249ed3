package kafkaconn

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LeaveStaticGroup removes the static member instanceID from group, on a
// client of its own built from opts: a static member's client does not
// leave the group when it closes (so that a crashed instance restarted with
// the same id gets its partitions back without a rebalance), so a clean
// shutdown calls this to hand its partitions to the other members at once
// instead of after the session timeout. It returns what failed; callers
// treat it as best effort, bounded by ctx.
func LeaveStaticGroup(ctx context.Context, opts []kgo.Opt, group, instanceID string) error {
	cl, err := kgo.NewClient(slices.Clone(opts)...)
	if err != nil {
		return fmt.Errorf("kafka client to leave group %s: %w", group, err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).LeaveGroup(ctx, kadm.LeaveGroup(group).InstanceIDs(instanceID).Reason("shutdown"))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("leave group %s as %s: %w", group, instanceID, err)
	}
	return nil
}
