package processors

import (
	"sync"
	"sync/atomic"

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

// recordArena hands out the output records of one partition's commands in
// a batch, and their sources (sourceCtx, on each record's Context), from
// arrays. The records' array is kept for the next batches: kgo holds a
// record until it calls its promise, so an arena is handed out again only
// once every record taken from it is done (outstanding 0). The sources'
// array is new in every batch: kgo may still read a record's Context after
// its promise (a goroutine waiting for an unknown topic watches the first
// record's Done). Records past the array are allocated one by one and not
// kept.
type recordArena struct {
	recs []kgo.Record
	srcs []sourceCtx
	// nrecs and nsrcs are how many of recs and srcs are handed out.
	nrecs, nsrcs int
	// outstanding counts the records handed out whose promise has not
	// run (done).
	outstanding atomic.Int64
}

// source returns a source for the command r, stored in the arena.
func (a *recordArena) source(r *kgo.Record) *sourceCtx {
	var s *sourceCtx
	if a.nsrcs < len(a.srcs) {
		s = &a.srcs[a.nsrcs]
		a.nsrcs++
	} else {
		s = new(sourceCtx)
	}
	*s = newSourceCtx(r, a)
	return s
}

// record turns an aggregate Output into a record of topic whose Context
// names the command it answers. The caller produces it with a promise
// that calls done.
func (a *recordArena) record(topic string, partition int32, o Output, src *sourceCtx) *kgo.Record {
	var r *kgo.Record
	if a.nrecs < len(a.recs) {
		r = &a.recs[a.nrecs]
		a.nrecs++
	} else {
		r = new(kgo.Record)
	}
	a.outstanding.Add(1)
	*r = kgo.Record{Topic: topic, Partition: partition, Key: o.Key, Value: o.Value, Headers: o.Headers, Context: src}
	return r
}

// done marks r, a record of the arena, as finished with (its promise
// ran: kgo no longer reads its key, value or headers). They are dropped, so
// that a kept arena does not keep the outputs of its last batch alive.
func (a *recordArena) done(r *kgo.Record) {
	r.Key, r.Value, r.Headers = nil, nil, nil
	a.outstanding.Add(-1)
}

// arenaPool keeps the record arenas of past batches (a few per partition
// handled at once) for the next ones.
type arenaPool struct {
	mu   sync.Mutex
	kept []*recordArena
}

// maxKeptArenas bounds the arenas kept: a handful per partition of a
// batch covers the batches whose records are still in flight.
const maxKeptArenas = 64

// get returns an arena with room for n commands of one output each
// plus their results: a kept one whose records are all done, or a new one.
func (p *arenaPool) get(n int) *recordArena {
	p.mu.Lock()
	for i, a := range p.kept {
		if a.outstanding.Load() != 0 {
			continue
		}
		p.kept = append(p.kept[:i], p.kept[i+1:]...)
		p.mu.Unlock()
		a.nrecs, a.nsrcs = 0, 0
		if len(a.recs) < 2*n {
			a.recs = make([]kgo.Record, 2*n)
		}
		a.srcs = make([]sourceCtx, n)
		return a
	}
	p.mu.Unlock()
	return &recordArena{recs: make([]kgo.Record, 2*n), srcs: make([]sourceCtx, n)}
}

// put keeps a for a later batch, dropping the oldest kept arena when
// maxKeptArenas are kept.
func (p *arenaPool) put(a *recordArena) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.kept) == maxKeptArenas {
		p.kept = append(p.kept[:0], p.kept[1:]...)
	}
	p.kept = append(p.kept, a)
}
