package sinks

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/schemas"
)

// dlqRecord copies rec (key, value, headers untouched) for the events DLQ
// and adds the prism-dlq-* headers naming the stage, the error and the
// source, plus the sink. It logs the line a human looks for.
func (r *Runner) dlqRecord(rec *kgo.Record, stage, class, msg string) *kgo.Record {
	hs := make([]kgo.RecordHeader, 0, len(rec.Headers)+7)
	hs = append(hs, rec.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: schemas.HeaderDLQStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: schemas.HeaderDLQClass, Value: []byte(class)},
		kgo.RecordHeader{Key: schemas.HeaderDLQMessage, Value: []byte(msg)},
		kgo.RecordHeader{Key: schemas.HeaderDLQTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: schemas.HeaderDLQPartition, Value: []byte(strconv.FormatInt(int64(rec.Partition), 10))},
		kgo.RecordHeader{Key: schemas.HeaderDLQOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		kgo.RecordHeader{Key: schemas.HeaderDLQSink, Value: []byte(r.cfg.Target.Name())},
	)
	r.m.dlq.WithLabelValues(class).Inc()
	r.log.Error("record sent to the events DLQ", "stage", stage, "class", class, "partition", rec.Partition,
		"offset", rec.Offset, "key", string(rec.Key), "reason", msg, "dlq_topic", r.cfg.EventsDLQTopic)
	return &kgo.Record{Topic: r.cfg.EventsDLQTopic, Key: rec.Key, Value: rec.Value, Headers: hs}
}

// decodeClass names a codec error for the prism-dlq-error-class header.
func decodeClass(err error) string { return schemas.ErrorClass(err) }
