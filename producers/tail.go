package producers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
)

// tailClient returns a read_committed client consuming every partition of
// topics from their last stable offsets, listed (bounded by ctx) before it
// returns: a record committed after the call is read, one committed before
// is not. what names the consumer in errors. Partitions added later are
// not read. Used by the results consumer and the events watcher.
func tailClient(ctx context.Context, kafka kafkaconn.Config, extra []kgo.Opt, topics []string, what string) (*kgo.Client, error) {
	opts, err := kafka.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	opts = append(opts, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: kafka client: %w", what, err)
	}
	// ListCommittedOffsets lists with read_committed: the last stable offsets.
	offsets, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topics...)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("%s: list end offsets of %s: %w", what, strings.Join(topics, ", "), err)
	}
	for _, t := range topics {
		if len(offsets[t]) == 0 {
			cl.Close()
			return nil, fmt.Errorf("%s: list end offsets of %s: topic does not exist", what, t)
		}
	}
	cl.AddConsumePartitions(offsets.KOffsets())
	return cl, nil
}

// tail hands every record cl fetches to dispatch until life ends or cl is
// closed; fetch errors are logged (WARN) and retried by the client.
func tail(life context.Context, cl *kgo.Client, log *slog.Logger, what string, dispatch func(*kgo.Record)) {
	for {
		fetches := cl.PollFetches(life)
		if life.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) {
				log.Warn(what+": fetch failed, retrying", "topic", topic, "partition", partition, "err", err)
			}
		})
		fetches.EachRecord(dispatch)
	}
}
