package processors

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A command whose output Kafka refuses for good (a record too large for
// the topic, an invalid record) would make every retry of its batch abort
// and stop its partition. The engine remembers such a command by its
// position and, when the batch is handled again, sends the command to the
// DLQ (stage "produce") instead of handling it.

// source names a command record by its position.
type source struct {
	partition int32
	offset    int64
}

// sourceCtx rides on every output record (kgo.Record.Context), as a
// pointer shared by the outputs of one command, so that a failed produce
// can be traced back to its command, and to the arena the record came
// from (records.go), whose done the record's promise calls.
type sourceCtx struct {
	context.Context
	src   source
	arena *recordArena
}

func newSourceCtx(src *kgo.Record, arena *recordArena) sourceCtx {
	return sourceCtx{context.Background(), source{src.Partition, src.Offset}, arena}
}

func sourceOf(r *kgo.Record) (source, bool) {
	s, ok := r.Context.(*sourceCtx)
	if !ok || s == nil {
		return source{}, false
	}
	return s.src, true
}

// permanentProduceError reports whether err will fail the same record
// again on every try.
func permanentProduceError(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage)
}

// poisoned is the set of commands whose outputs were refused for good,
// with the refusal. Entries go when the command has been dead-lettered in
// a committed transaction (or its partition is no longer owned).
type poisoned struct {
	mu sync.Mutex
	m  map[source]error
	// n is len(m), written under mu: get skips the lock while the set
	// is empty, the usual case, which every command checks.
	n atomic.Int64
}

func (p *poisoned) add(s source, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[source]error)
	}
	if _, ok := p.m[s]; !ok {
		p.m[s] = err
	}
	p.n.Store(int64(len(p.m)))
}

func (p *poisoned) get(s source) (error, bool) {
	if p.n.Load() == 0 {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	err, ok := p.m[s]
	return err, ok
}

// forget drops the entries of the given sources, and those of partitions
// not in keep (nil keep: keep every partition).
func (p *poisoned) forget(done []source, keep map[int32]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() { p.n.Store(int64(len(p.m))) }()
	for _, s := range done {
		delete(p.m, s)
	}
	if keep == nil {
		return
	}
	for s := range p.m {
		if _, ok := keep[s.partition]; !ok {
			delete(p.m, s)
		}
	}
}
