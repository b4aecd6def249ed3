package topology

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureTopics makes the cluster cl talks to match spec (Apply without
// Force) and returns once every topic exists with its configs and every
// partition has a leader. It is what tests and programs call before they
// produce or consume: safe to call from several processes at once, and a
// no-op when the topology is already there. It fails, changing nothing, when
// the cluster has a layout Apply refuses to touch (fewer or more partitions
// than the spec, another replication factor).
func EnsureTopics(ctx context.Context, cl *kgo.Client, spec Spec) error {
	a, err := NewAdmin(AdminConfig{Client: cl})
	if err != nil {
		return err
	}
	if _, err := a.Apply(ctx, spec, ApplyOptions{}); err != nil {
		return fmt.Errorf("ensure topics of namespace %s: %w", spec.Namespace, err)
	}
	return nil
}

// EnsureTopicsWith is EnsureTopics over a client built from opts (for
// example kafkaconn.Config.Opts() or kgo.SeedBrokers(...)) and closed
// before it returns.
func EnsureTopicsWith(ctx context.Context, opts []kgo.Opt, spec Spec) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("ensure topics of namespace %s: kafka client: %w", spec.Namespace, err)
	}
	defer cl.Close()
	return EnsureTopics(ctx, cl, spec)
}

// DeleteTopics deletes every topic of spec (see Admin.Delete); tests call it
// when they end.
func DeleteTopics(ctx context.Context, cl *kgo.Client, spec Spec) error {
	a, err := NewAdmin(AdminConfig{Client: cl})
	if err != nil {
		return err
	}
	return a.Delete(ctx, spec)
}
