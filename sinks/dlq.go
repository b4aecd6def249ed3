package sinks

import (
	"github.com/prism-cqrs/prism/records"
	"github.com/twmb/franz-go/pkg/kgo"
)

// classRejectedByTarget is the DLQ class of an event the target refuses
// for good.
const classRejectedByTarget = "rejected-by-target"

// dlqRecord copies rec (key, value, headers untouched) for the events DLQ
// and adds the prism-dlq-* headers naming the stage, the error and the
// source, plus the sink. It logs the line a human looks for.
func (r *Runner) dlqRecord(rec *kgo.Record, stage, class, msg string) *kgo.Record {
	r.m.dlq.WithLabelValues(class).Inc()
	r.log.Error("record sent to the events DLQ", "stage", stage, "class", class, "partition", rec.Partition,
		"offset", rec.Offset, "key", string(rec.Key), "reason", msg, "dlq_topic", r.cfg.EventsDLQTopic)
	return records.DLQRecord(r.cfg.EventsDLQTopic, rec, stage, class, msg,
		kgo.RecordHeader{Key: records.HeaderDLQSink, Value: []byte(r.cfg.Target.Name())})
}

// decodeClass names a codec error for the prism-dlq-error-class header.
func decodeClass(err error) string { return records.ErrorClass(err) }
