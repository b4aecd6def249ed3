package producers

import (
	"context"

	"github.com/prism-cqrs/prism/topology"
)

// Check asks the cluster, bounded by ctx, whether the commands topic of
// every aggregate of the producer (and, when withResults is set, its
// results topic and its events topic when it has one) exist (topology.CheckTopics).
// It fails fast with a clear error when the brokers cannot be reached or a
// topic is missing (wrapping topology.ErrTopicMissing), instead of letting
// the first send retry until its delivery timeout.
func (p *CommandProducer) Check(ctx context.Context, withResults bool) error {
	var topics []string
	for _, a := range p.cfg.Aggregates {
		topics = append(topics, a.CommandsTopic)
	}
	if withResults {
		for _, a := range p.cfg.Aggregates {
			topics = append(topics, a.ResultsTopic)
			if a.EventsTopic != "" {
				topics = append(topics, a.EventsTopic)
			}
		}
	}
	_, err := topology.CheckTopics(ctx, p.client, topics...)
	return err
}
