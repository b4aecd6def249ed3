package producers

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/topology"
)

// RecordLimit is the largest command record, in bytes, the producer can
// write to topic (one of its aggregates' commands topics): the smaller of
// the topic's max.message.bytes (read from the cluster, bounded by ctx)
// and Config.MaxBatchBytes (franz-go fails a larger record itself). When
// the topic's config cannot be read (no describe permission, an old
// broker), the documented default topology.DefaultMaxMessageBytes is
// assumed and fromTopic is false.
func (p *CommandProducer) RecordLimit(ctx context.Context, topic string) (limit int, fromTopic bool, err error) {
	limit = int(topology.DefaultMaxMessageBytes)
	rcs, err := kadm.NewClient(p.client).DescribeTopicConfigs(ctx, topic)
	if err == nil {
		var rc kadm.ResourceConfig
		if rc, err = rcs.On(topic, nil); err == nil {
			err = rc.Err
		}
		for _, c := range rc.Configs {
			if c.Key == topology.ConfigMaxMessageBytes && c.Value != nil {
				v, perr := strconv.Atoi(*c.Value)
				if perr != nil {
					return 0, false, fmt.Errorf("%s: %s %q: %w", topic, c.Key, *c.Value, perr)
				}
				limit, fromTopic = v, true
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, fmt.Errorf("describe configs of %s: %w", topic, err)
		}
		p.log.Warn("cannot read the commands topic's max.message.bytes, assuming the default",
			"topic", topic, "default", limit, "err", err)
	}
	if b := int(p.cfg.MaxBatchBytes); b > 0 && b < limit {
		limit = b
	}
	return limit, fromTopic, nil
}

// RecordLimits is RecordLimit of the commands topic of every aggregate of
// the producer, by topic.
func (p *CommandProducer) RecordLimits(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range p.records.targets {
		limit, _, err := p.RecordLimit(ctx, t.CommandsTopic)
		if err != nil {
			return nil, err
		}
		out[t.CommandsTopic] = limit
	}
	return out, nil
}

// OversizedLines returns a LineError for every line whose command record,
// in a record batch of its own and uncompressed, would be larger than the
// limit of its commands topic (limits by topic, RecordLimits; a topic
// without a limit is not checked). Checking them all before producing
// anything means a file is never cut in the middle by the broker's
// MESSAGE_TOO_LARGE. The check is conservative: the broker compares the
// compressed batch, which can be smaller.
func (p *CommandProducer) OversizedLines(lines []Parsed, limits map[string]int) ([]LineError, error) {
	var bad []LineError
	for _, l := range lines {
		rec, _, err := p.record(l.Command)
		if err != nil {
			return bad, fmt.Errorf("line %d: %w", l.Line, err)
		}
		limit, ok := limits[rec.Topic]
		if !ok {
			continue
		}
		if n := batchBytes(rec); n > limit {
			bad = append(bad, LineError{Line: l.Line, Err: fmt.Errorf("its record is %d bytes, more than the %d bytes the commands topic %s takes (max.message.bytes, --batch-max-bytes)", n, limit, rec.Topic)})
		}
	}
	return bad, nil
}

// batchBytes is the size of a Kafka v2 record batch holding only r,
// uncompressed: the 61-byte batch header and the record (length, attributes,
// timestamp and offset deltas, key, value, headers, each length a zigzag
// varint).
func batchBytes(r *kgo.Record) int {
	const batchHeader = 61
	body := 1 + varintLen(0) + varintLen(0) // attributes, timestamp delta, offset delta
	body += varintLen(int64(len(r.Key))) + len(r.Key)
	body += varintLen(int64(len(r.Value))) + len(r.Value)
	body += varintLen(int64(len(r.Headers)))
	for _, h := range r.Headers {
		body += varintLen(int64(len(h.Key))) + len(h.Key) + varintLen(int64(len(h.Value))) + len(h.Value)
	}
	return batchHeader + varintLen(int64(body)) + body
}

func varintLen(v int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], v)
}
