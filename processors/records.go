package processors

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// partitioner sends event records to the partition set on the record (the
// partition of the command they answer: commands and events are
// co-partitioned, and a key's state lives with the partition its commands
// arrive on) and every other record by the hash of its key, as Kafka's
// default partitioner does.
type partitioner struct {
	events string
	byKey  kgo.Partitioner
}

func newPartitioner(eventsTopic string) kgo.Partitioner {
	return partitioner{events: eventsTopic, byKey: kgo.StickyKeyPartitioner(nil)}
}

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.events {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.byKey.ForTopic(topic)
}

// recordArena hands out output records from a preallocated array, a new
// one when it runs out, so that producing does not cost an allocation per
// record. A record handed out is never reused.
type recordArena struct{ free []kgo.Record }

// record turns an aggregate Output into a record of topic whose Context
// names the command it answers.
func (a *recordArena) record(topic string, partition int32, o Output, src *sourceCtx) *kgo.Record {
	if len(a.free) == 0 {
		a.free = make([]kgo.Record, 256)
	}
	r := &a.free[0]
	a.free = a.free[1:]
	*r = kgo.Record{Topic: topic, Partition: partition, Key: o.Key, Value: o.Value, Headers: o.Headers, Context: src}
	return r
}
