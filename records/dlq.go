package records

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// MaxDLQMessageBytes bounds the prism-dlq-error header.
const MaxDLQMessageBytes = 1000

// DLQRecord is the dead letter of src for topic: src's key, value and
// headers untouched, plus the prism-dlq-* headers that say where it came
// from (topic, partition, offset), at which stage and why (class, message
// cut to MaxDLQMessageBytes), and any extra headers (the sink's name). The
// processor and the sinks build their DLQ records with it.
func DLQRecord(topic string, src *kgo.Record, stage, class, msg string, extra ...kgo.RecordHeader) *kgo.Record {
	if len(msg) > MaxDLQMessageBytes {
		msg = msg[:MaxDLQMessageBytes]
	}
	h := slices.Grow(slices.Clone(src.Headers), 6+len(extra))
	h = append(h,
		kgo.RecordHeader{Key: HeaderDLQStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: HeaderDLQClass, Value: []byte(class)},
		kgo.RecordHeader{Key: HeaderDLQMessage, Value: []byte(msg)},
		kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: HeaderDLQPartition, Value: []byte(strconv.FormatInt(int64(src.Partition), 10))},
		kgo.RecordHeader{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
	)
	h = append(h, extra...)
	return &kgo.Record{Topic: topic, Key: src.Key, Value: src.Value, Headers: h}
}
