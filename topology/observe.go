package topology

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// observe reads the named topics from the cluster: partition count,
// replication factor, leaders and effective configs. A topic that does not
// exist is absent from the result. It asks the brokers directly (never the
// client's metadata cache, which may be seconds old right after a create or
// a partition raise) and never lets the request auto-create a topic.
//
// A retriable error on a topic (a leader being elected right after a create)
// is retried with backoff, up to 8 times within ctx, before it is returned.
func (a *Admin) observe(ctx context.Context, topics []string) (map[string]TopicState, error) {
	return retryRetriable(ctx, func() (map[string]TopicState, error) { return a.observeOnce(ctx, topics) })
}

// retryRetriable calls once until it returns nil or an error Kafka does not
// call retriable, at most 8 times within ctx, with a backoff from 50 ms
// doubling up to 1 s (a leader being elected right after a create).
func retryRetriable[T any](ctx context.Context, once func() (T, error)) (T, error) {
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := once()
		if err == nil || !kerr.IsRetriable(err) || attempt == 8 {
			return v, err
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (a *Admin) observeOnce(ctx context.Context, topics []string) (map[string]TopicState, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return nil, fmt.Errorf("read metadata of %d topics: %w", len(topics), err)
	}
	state := make(map[string]TopicState, len(topics))
	var existing []string
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		name := *t.Topic
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				continue
			}
			return nil, fmt.Errorf("read metadata of topic %s: %w", name, err)
		}
		ts := TopicState{Name: name, Partitions: int32(len(t.Partitions)), Configs: map[string]ConfigValue{}}
		for _, p := range t.Partitions {
			if p.Partition == 0 {
				ts.ReplicationFactor = int16(len(p.Replicas))
			}
			if p.Leader < 0 {
				ts.Leaderless++
			}
		}
		state[name] = ts
		existing = append(existing, name)
	}
	if len(existing) == 0 {
		return state, nil
	}
	rcs, err := a.adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %d topics: %w", len(existing), err)
	}
	for _, rc := range rcs {
		ts, ok := state[rc.Name]
		if !ok {
			continue
		}
		if rc.Err != nil {
			if errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
				// Deleted between the two requests, or not yet
				// propagated to the broker that answered: treat as
				// missing, a later look settles it.
				delete(state, rc.Name)
				continue
			}
			return nil, fmt.Errorf("describe configs of topic %s: %w (%s)", rc.Name, rc.Err, rc.ErrMessage)
		}
		for _, c := range rc.Configs {
			ts.Configs[c.Key] = ConfigValue{
				Value:    c.MaybeValue(),
				Override: c.Source == kmsg.ConfigSourceDynamicTopicConfig,
			}
		}
		state[rc.Name] = ts
	}
	return state, nil
}
