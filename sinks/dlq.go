package sinks

import (
	"strconv"

	"github.com/prism-cqrs/prism/records"
	"github.com/twmb/franz-go/pkg/kgo"
)

// dlqRecord copies rec (key, value, headers untouched) for the events DLQ
// and adds the prism-dlq-* headers naming the stage, the error and the
// source, plus the sink. It logs the line a human looks for.
func (r *Runner) dlqRecord(rec *kgo.Record, stage, class, msg string) *kgo.Record {
	hs := make([]kgo.RecordHeader, 0, len(rec.Headers)+7)
	hs = append(hs, rec.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: records.HeaderDLQStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: records.HeaderDLQClass, Value: []byte(class)},
		kgo.RecordHeader{Key: records.HeaderDLQMessage, Value: []byte(msg)},
		kgo.RecordHeader{Key: records.HeaderDLQTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: records.HeaderDLQPartition, Value: []byte(strconv.FormatInt(int64(rec.Partition), 10))},
		kgo.RecordHeader{Key: records.HeaderDLQOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		kgo.RecordHeader{Key: records.HeaderDLQSink, Value: []byte(r.cfg.Target.Name())},
	)
	r.m.dlq.WithLabelValues(class).Inc()
	r.log.Error("record sent to the events DLQ", "stage", stage, "class", class, "partition", rec.Partition,
		"offset", rec.Offset, "key", string(rec.Key), "reason", msg, "dlq_topic", r.cfg.EventsDLQTopic)
	return &kgo.Record{Topic: r.cfg.EventsDLQTopic, Key: rec.Key, Value: rec.Value, Headers: hs}
}

// decodeClass names a codec error for the prism-dlq-error-class header.
func decodeClass(err error) string { return records.ErrorClass(err) }
