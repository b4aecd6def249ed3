package producers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/records"
)

// EventRecord is one record of an events topic that carries a watched
// command id (its prism-command-id header): an event or, for an event that
// removes the aggregate, the tombstone that follows it.
type EventRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Tombstone bool // a nil value: the key's tombstone
	// Version is the event's aggregate version and Removes whether the event
	// removes the aggregate (its State is nil: a tombstone follows), when
	// the aggregate's records.EventDecoder decoded it. Decoded is false for
	// a tombstone, without a decoder, or when decoding failed.
	Version int64
	Removes bool
	Decoded bool
}

// EventWatcherConfig configures an EventWatcher.
type EventWatcherConfig struct {
	Kafka kafkaconn.Config
	// Topics are the events topics to read, each with its aggregate's event
	// decoder (nil: records are matched by header only, see
	// CommandEvents.Token).
	Topics map[string]records.EventDecoder
	// Grace is how long CommandEvents.Token waits, after the last record
	// of a command it could not decode, for more records of the command
	// (default DefaultEventGrace).
	Grace     time.Duration
	ExtraOpts []kgo.Opt
	Logger    *slog.Logger
}

// DefaultEventGrace is EventWatcherConfig.Grace's default.
const DefaultEventGrace = 250 * time.Millisecond

// EventWatcher is one read_committed consumer of the aggregates' events
// topics that tells registered waiters where the records carrying their
// command id landed: the consistency token of a command (queries.Token) is
// the highest of those offsets.
//
// The guarantee: the watcher starts from the last stable offsets of its
// topics, listed before NewEventWatcher returns, and reads every record
// committed after them. A command registered (Watch) before it is sent
// therefore cannot miss its records: they are written after the send,
// hence after the start offsets, and dispatched after the registration.
// Records of commands nobody waits for are skipped after a header look-up.
// Partitions added to a topic after the start are not read.
type EventWatcher struct {
	client   *kgo.Client
	decoders map[string]records.EventDecoder
	grace    time.Duration
	log      *slog.Logger
	stop     context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	waiters map[waitKey][]*CommandEvents
	closed  bool
}

// NewEventWatcher lists the last stable offsets of cfg.Topics (bounded by
// ctx) and starts consuming from there until Close.
func NewEventWatcher(ctx context.Context, cfg EventWatcherConfig) (*EventWatcher, error) {
	if len(cfg.Topics) == 0 {
		return nil, errors.New("events watcher: no events topic")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultEventGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opts, err := cfg.Kafka.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	opts = append(opts, cfg.ExtraOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("events watcher: kafka client: %w", err)
	}
	topics := make([]string, 0, len(cfg.Topics))
	for t := range cfg.Topics {
		topics = append(topics, t)
	}
	// ListCommittedOffsets lists with read_committed: the last stable offsets.
	offsets, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topics...)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("events watcher: list end offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	for _, t := range topics {
		if len(offsets[t]) == 0 {
			cl.Close()
			return nil, fmt.Errorf("events watcher: list end offsets of %s: topic does not exist", t)
		}
	}
	cl.AddConsumePartitions(offsets.KOffsets())
	life, stop := context.WithCancel(context.Background())
	w := &EventWatcher{
		client: cl, decoders: cfg.Topics, grace: cfg.Grace, log: cfg.Logger,
		stop: stop, done: make(chan struct{}), waiters: map[waitKey][]*CommandEvents{},
	}
	go w.run(life)
	return w, nil
}

func (w *EventWatcher) run(life context.Context) {
	defer close(w.done)
	for {
		fetches := w.client.PollFetches(life)
		if life.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) {
				w.log.Warn("events watcher: fetch failed, retrying", "topic", topic, "partition", partition, "err", err)
			}
		})
		fetches.EachRecord(w.dispatch)
	}
}

// commandID is the record's prism-command-id header value (nil if none).
func commandID(r *kgo.Record) []byte {
	for _, h := range r.Headers {
		if h.Key == records.HeaderCommandID {
			return h.Value
		}
	}
	return nil
}

func (w *EventWatcher) dispatch(r *kgo.Record) {
	w.mu.Lock()
	if len(w.waiters) == 0 {
		w.mu.Unlock()
		return
	}
	id := commandID(r)
	if id == nil {
		w.mu.Unlock()
		return
	}
	ws := w.waiters[waitKey{r.Topic, string(id)}]
	if len(ws) == 0 {
		w.mu.Unlock()
		return
	}
	ws = append([]*CommandEvents(nil), ws...)
	w.mu.Unlock()
	m := EventRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Tombstone: r.Value == nil}
	if dec := w.decoders[r.Topic]; dec != nil && !m.Tombstone {
		ev, err := dec.DecodeEvent(r.Value)
		if err != nil {
			w.log.Warn("events watcher: undecodable event", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
		} else {
			m.Version, m.Removes, m.Decoded = ev.Version, ev.State == nil, true
		}
	}
	for _, c := range ws {
		c.add(m)
	}
}

// Watch registers the command id commandID on the events topic topic. Call
// it before sending the command (see EventWatcher); Close the returned
// CommandEvents when done. Several registrations of one command id each get
// every record.
func (w *EventWatcher) Watch(topic, commandID string) (*CommandEvents, error) {
	if _, ok := w.decoders[topic]; !ok {
		return nil, fmt.Errorf("events watcher: %s is not a watched events topic", topic)
	}
	c := &CommandEvents{w: w, key: waitKey{topic, commandID}, changed: make(chan struct{})}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	w.waiters[c.key] = append(w.waiters[c.key], c)
	return c, nil
}

func (w *EventWatcher) remove(c *CommandEvents) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.waiters[c.key]
	for i, x := range ws {
		if x == c {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(w.waiters, c.key)
	} else {
		w.waiters[c.key] = ws
	}
}

// Close stops the consumer; pending Token calls return ErrClosed.
func (w *EventWatcher) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	all := w.waiters
	w.waiters = map[waitKey][]*CommandEvents{}
	w.mu.Unlock()
	w.stop()
	w.client.Close()
	<-w.done
	for _, ws := range all {
		for _, c := range ws {
			c.fail(ErrClosed)
		}
	}
}

// CommandEvents collects the events-topic records of one command id.
type CommandEvents struct {
	w   *EventWatcher
	key waitKey

	mu      sync.Mutex
	records []EventRecord
	last    time.Time     // when the last record came
	changed chan struct{} // closed (and replaced) when a record comes
	err     error
}

func (c *CommandEvents) add(m EventRecord) {
	c.mu.Lock()
	c.records = append(c.records, m)
	c.last = time.Now()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *CommandEvents) fail(err error) {
	c.mu.Lock()
	c.err = err
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Records returns the records seen so far, in the order they came.
func (c *CommandEvents) Records() []EventRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]EventRecord(nil), c.records...)
}

// Close removes the registration; safe to call more than once.
func (c *CommandEvents) Close() { c.w.remove(c) }

// Token waits, bounded by ctx, until every events-topic record of the
// command whose result is res has been seen, and returns the consistency
// token: the highest of their offsets. ok is false, without waiting, when
// res emitted nothing (rejected, or a duplicate answered from the
// processor's memory). A command's records are complete once its event of
// version res.EventVersion (its last) is seen and, when that event removes
// the aggregate, the tombstone after it. Records that could not be decoded
// (no decoder, a bad value) are complete once the watcher's grace passed
// with no more record of the command. The error is ctx's or ErrClosed.
func (c *CommandEvents) Token(ctx context.Context, res *records.Result) (tok queries.Token, ok bool, err error) {
	if res == nil || !res.Accepted || res.Duplicate {
		return queries.Token{}, false, nil
	}
	for {
		c.mu.Lock()
		tok, complete, retry := c.complete(res.EventVersion)
		changed, err := c.changed, c.err
		c.mu.Unlock()
		if complete {
			return tok, true, nil
		}
		if err != nil {
			return queries.Token{}, false, err
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if retry > 0 {
			timer = time.NewTimer(retry)
			fire = timer.C
		}
		select {
		case <-changed:
		case <-fire:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return queries.Token{}, false, fmt.Errorf("events of command %s: %w", c.key.commandID, ctx.Err())
		}
	}
}

// complete reports whether the records seen are all of a command whose
// last event has version version, and their token; when it cannot tell
// before the grace passes, retry is how long to wait before asking again.
// c.mu is held.
func (c *CommandEvents) complete(version int64) (tok queries.Token, complete bool, retry time.Duration) {
	if len(c.records) == 0 {
		return queries.Token{}, false, 0
	}
	var last *EventRecord // the event of version `version`
	undecoded := false
	for i := range c.records {
		r := &c.records[i]
		if r.Offset > tok.Offset || tok.Topic == "" {
			tok = queries.Token{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
		}
		switch {
		case r.Decoded && r.Version >= version:
			last = r
		case !r.Decoded && !r.Tombstone:
			undecoded = true
		}
	}
	if last != nil {
		if !last.Removes {
			return tok, true, 0
		}
		for _, r := range c.records {
			if r.Tombstone && r.Partition == last.Partition && r.Offset > last.Offset {
				return tok, true, 0
			}
		}
		return queries.Token{}, false, 0
	}
	if undecoded {
		if wait := c.w.grace - time.Since(c.last); wait > 0 {
			return queries.Token{}, false, wait
		}
		return tok, true, 0
	}
	return queries.Token{}, false, 0
}
