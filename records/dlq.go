package records

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// MaxDLQMessageBytes bounds the prism-dlq-error header. A longer message
// keeps its start and its end (where a target's error says what caused
// it), joined by " … ".
const MaxDLQMessageBytes = 1000

// cutMessage shortens msg to at most MaxDLQMessageBytes, keeping its start
// and its end, cut on UTF-8 boundaries.
func cutMessage(msg string) string {
	if len(msg) <= MaxDLQMessageBytes {
		return msg
	}
	const sep = " … "
	half := (MaxDLQMessageBytes - len(sep)) / 2
	head, tail := half, len(msg)-half
	for head > 0 && !utf8.RuneStart(msg[head]) {
		head--
	}
	for tail < len(msg) && !utf8.RuneStart(msg[tail]) {
		tail++
	}
	return msg[:head] + sep + msg[tail:]
}

// DLQRecord is the dead letter of src for topic: src's key, value and
// headers untouched, plus the prism-dlq-* headers that say where it came
// from (topic, partition, offset), at which stage and why (class, message
// cut to MaxDLQMessageBytes), and any extra headers (the sink's name). The
// processor and the sinks build their DLQ records with it.
func DLQRecord(topic string, src *kgo.Record, stage, class, msg string, extra ...kgo.RecordHeader) *kgo.Record {
	msg = cutMessage(msg)
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
