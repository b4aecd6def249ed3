package producers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
)

// resultWatcher is the one results consumer of a producer. It reads every
// partition of the results topic of each of the producer's aggregates with
// read_committed, from the last stable offsets listed when it started, and
// hands each result, decoded by its aggregate's records.ResultDecoder, to
// the callbacks registered for its topic and key (the command id). A command id sent
// twice is waited for twice, and its results come in the order of the
// sends (one partition, one processor): each result goes to the oldest
// waiter of its key, so the second send gets the second result (the
// processor's `duplicate: true`), not a copy of the first. Results nobody
// waits for are skipped without being decoded.
type resultWatcher struct {
	client   *kgo.Client
	decoders map[string]records.ResultDecoder // by results topic
	log      *slog.Logger
	done     chan struct{}

	mu      sync.Mutex
	waiters map[waitKey][]*waiter
	closed  bool
}

// waitKey is a results topic and a command id: the same command id sent
// to two aggregates waits for each one's result.
type waitKey struct{ topic, commandID string }

type waiter struct {
	fn func(*records.Result, error)
}

// startResultWatcher lists the results topics' last stable offsets (bounded
// by ctx) and starts consuming from there, until life is done. A result
// written before this call returns is not seen; every result written after
// it is, so a waiter registered before its command is sent cannot miss its
// result. Partitions added to the topic later are not read.
func startResultWatcher(ctx, life context.Context, cfg Config) (*resultWatcher, error) {
	decoders := map[string]records.ResultDecoder{}
	var topics []string
	for _, a := range cfg.Aggregates {
		if _, ok := decoders[a.ResultsTopic]; !ok {
			topics = append(topics, a.ResultsTopic)
		}
		decoders[a.ResultsTopic] = a.Results
	}
	cl, err := tailClient(ctx, cfg.Kafka, cfg.ExtraOpts, topics, "results consumer")
	if err != nil {
		return nil, err
	}
	w := &resultWatcher{
		client: cl, decoders: decoders, log: cfg.Logger,
		done: make(chan struct{}), waiters: map[waitKey][]*waiter{},
	}
	go w.run(life)
	return w, nil
}

func (w *resultWatcher) run(life context.Context) {
	defer close(w.done)
	tail(life, w.client, w.log, "results consumer", w.dispatch)
}

func (w *resultWatcher) dispatch(r *kgo.Record) {
	if r.Value == nil {
		return // tombstone of the compacted topic
	}
	key := waitKey{r.Topic, string(r.Key)}
	id := key.commandID
	w.mu.Lock()
	ws := w.waiters[key]
	if len(ws) == 0 {
		w.mu.Unlock()
		return
	}
	wt := ws[0]
	if len(ws) == 1 {
		delete(w.waiters, key)
	} else {
		w.waiters[key] = ws[1:]
	}
	w.mu.Unlock()
	res, err := w.decoders[r.Topic].DecodeResult(r.Value)
	if err != nil {
		err = fmt.Errorf("decode result of command %s (%s/%d@%d): %w", id, r.Topic, r.Partition, r.Offset, err)
		w.log.Warn("results consumer: undecodable result", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
	}
	wt.fn(res, err)
}

// add registers fn for commandID on the results topic topic; the returned
// func removes it (a no-op once fn was called).
func (w *resultWatcher) add(topic, commandID string, fn func(*records.Result, error)) (func(), error) {
	wt := &waiter{fn: fn}
	key := waitKey{topic, commandID}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	w.waiters[key] = append(w.waiters[key], wt)
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		ws := w.waiters[key]
		for i, x := range ws {
			if x == wt {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(w.waiters, key)
		} else {
			w.waiters[key] = ws
		}
	}, nil
}

// pending is how many commands are being waited for.
func (w *resultWatcher) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ws := range w.waiters {
		n += len(ws)
	}
	return n
}

// close stops the consumer and fails every waiter with ErrClosed. The
// caller has cancelled life.
func (w *resultWatcher) close() {
	w.client.Close()
	<-w.done
	w.mu.Lock()
	w.closed = true
	all := w.waiters
	w.waiters = map[waitKey][]*waiter{}
	w.mu.Unlock()
	for _, ws := range all {
		for _, wt := range ws {
			wt.fn(nil, ErrClosed)
		}
	}
}
