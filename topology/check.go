package topology

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrTopicMissing is wrapped by CheckTopics' error when a topic does not
// exist.
var ErrTopicMissing = errors.New("topic does not exist")

// CheckTimeout is how long a command waits, at start, for CheckTopics
// before it gives up: the cluster either answers within it or is treated as
// unreachable.
const CheckTimeout = 15 * time.Second

// CheckTopics asks the cluster, bounded by ctx, whether every topic exists,
// and returns the partition count of each. It is the one check every
// command runs before it produces or consumes (prism process, prism sink,
// prism produce): without it a consumer of a missing topic waits silently
// forever and a producer retries until its delivery timeout.
//
// It changes nothing and never lets the request auto-create a topic. It
// fails
//   - naming every missing topic (the error wraps ErrTopicMissing and says
//     to run `prism topology apply`);
//   - naming the seed brokers when none answers (refused, timed out, not
//     Kafka); the error wraps the client's;
//   - on any other error of a topic (not authorized to describe it, ...).
//
// A retriable error on a topic (a leader being elected right after a
// create) is retried with backoff, up to 8 times within ctx.
func CheckTopics(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]int32, error) {
	return retryRetriable(ctx, func() (map[string]int32, error) { return checkTopicsOnce(ctx, cl, topics) })
}

func checkTopicsOnce(ctx context.Context, cl *kgo.Client, topics []string) (map[string]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("reach Kafka at %s: no answer in time (a Kafka broker at that address?): %w", SeedBrokers(cl), err)
	}
	if err != nil {
		return nil, fmt.Errorf("reach Kafka at %s: %w", SeedBrokers(cl), err)
	}
	parts := make(map[string]int32, len(topics))
	var errs []error
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		err := kerr.ErrorForCode(t.ErrorCode)
		switch {
		case err == nil:
			parts[*t.Topic] = int32(len(t.Partitions))
		case errors.Is(err, kerr.UnknownTopicOrPartition):
		default:
			errs = append(errs, fmt.Errorf("topic %s: %w", *t.Topic, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var missing []string
	for _, t := range topics {
		if _, ok := parts[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return nil, missingTopicsError(missing)
	}
	return parts, nil
}

// missingTopicsError names the missing topics in one sentence and matches
// ErrTopicMissing.
type missingTopicsError []string

func (e missingTopicsError) Error() string {
	if len(e) == 1 {
		return e[0] + ": topic does not exist (create it with `prism topology apply`)"
	}
	return strings.Join(e, ", ") + ": topics do not exist (create them with `prism topology apply`)"
}

func (e missingTopicsError) Is(target error) bool { return target == ErrTopicMissing }

// SeedBrokers returns the seed brokers cl was built with, comma separated,
// for messages that name the cluster (host:port only: franz-go seeds carry
// no credentials).
func SeedBrokers(cl *kgo.Client) string {
	seeds, _ := cl.OptValue(kgo.SeedBrokers).([]string)
	return strings.Join(seeds, ",")
}

// ErrNotReady is wrapped, with ErrTopicMissing, by CheckReady's error when
// topics of the namespace are missing.
var ErrNotReady = errors.New("topology not applied")

// CheckReady is CheckTopics for every topic of namespace n, plus the rule
// that commands and events are co-partitioned, whatever their partition
// count (the processor's start-up check). It fails naming the missing
// topics (wrapping ErrNotReady and ErrTopicMissing) or the partition counts
// that differ (ErrNotCoPartitioned).
func CheckReady(ctx context.Context, cl *kgo.Client, n Names) error {
	parts, err := CheckTopics(ctx, cl, n.CommandsTopic(), n.EventsTopic(), n.ResultsTopic(), n.CommandsDLQTopic(), n.EventsDLQTopic())
	if errors.Is(err, ErrTopicMissing) {
		return fmt.Errorf("namespace %s: %w (%w)", n.Namespace, err, ErrNotReady)
	}
	if err != nil {
		return fmt.Errorf("check topology of namespace %s: %w", n.Namespace, err)
	}
	if c, e := parts[n.CommandsTopic()], parts[n.EventsTopic()]; c != e {
		return fmt.Errorf("namespace %s: commands has %d partitions, events %d: %w", n.Namespace, c, e, ErrNotCoPartitioned)
	}
	return nil
}
