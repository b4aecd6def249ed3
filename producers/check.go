package producers

import (
	"context"

	"github.com/prism-cqrs/prism/topology"
)

// Check asks the cluster, bounded by ctx, whether the commands topic (and,
// when withResults is set, the results topic) exist (topology.CheckTopics).
// It fails fast with a clear error when the brokers cannot be reached or a
// topic is missing (wrapping topology.ErrTopicMissing), instead of letting
// the first send retry until its delivery timeout.
func (p *CommandProducer) Check(ctx context.Context, withResults bool) error {
	topics := []string{p.cfg.CommandsTopic}
	if withResults {
		topics = append(topics, p.cfg.ResultsTopic)
	}
	_, err := topology.CheckTopics(ctx, p.client, topics...)
	return err
}
