package producers

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrTopicMissing is returned by Check when a topic the producer needs does
// not exist.
var ErrTopicMissing = errors.New("topic does not exist (create it with `prism topology apply`)")

// Check asks the cluster, bounded by ctx, whether the commands topic (and,
// when withResults is set, the results topic) exist. It fails fast with a
// clear error when the brokers cannot be reached or a topic is missing,
// instead of letting the first send retry until its delivery timeout.
func (p *CommandProducer) Check(ctx context.Context, withResults bool) error {
	topics := []string{p.cfg.CommandsTopic}
	if withResults {
		topics = append(topics, p.cfg.ResultsTopic)
	}
	details, err := kadm.NewClient(p.client).ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("reach Kafka at %s: %w", p.cfg.Kafka, err)
	}
	var errs []error
	for _, t := range topics {
		d, ok := details[t]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			errs = append(errs, fmt.Errorf("%s: %w", t, ErrTopicMissing))
		case d.Err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", t, d.Err))
		}
	}
	return errors.Join(errs...)
}
