package readmodels

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// Write applies the batch in one transaction (see the package doc), first
// on the read model's fast path; when a statement fails with a unique
// violation (an event re-sent at a new offset, whose rows exist), the
// transaction is rolled back and the batch written again on the careful
// path.
func (t *Target) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	rej, err := t.write(ctx, topic, batch, false)
	if pgstore.IsUniqueViolation(err) {
		rej, err = t.write(ctx, topic, batch, true)
	}
	if err != nil {
		return nil, pgstore.Classify(fmt.Errorf("readmodels sink: batch of %d events: %w", len(batch), err))
	}
	return rej, nil
}

// selected is what one attempt finds once the stored offsets are known.
type selected struct {
	fresh    []sinks.Event // storable events at or after the stored offsets
	moved    map[int32]int64
	rejected []sinks.Rejected
}

func (t *Target) write(ctx context.Context, topic string, batch []sinks.Event, careful bool) ([]sinks.Rejected, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	reasons := make([]string, len(batch))
	var valid []sinks.Event
	for i, ev := range batch {
		if reasons[i] = t.rm.Check(ev); reasons[i] == "" {
			valid = append(valid, ev)
		}
	}
	w := t.rm.Writer(projections.ReadModelScope{Schema: t.Schema, Topic: topic, Careful: careful})
	next := map[int32]int64{}
	var sel *selected
	err := pgstore.Trips(ctx, t.Pool,
		// Trip 1: lock the offsets, then the read model's reads.
		func(b *pgx.Batch) {
			pgstore.QueueLockOffsets(b, t.Schema, Name, topic, pgstore.Partitions(batch), next)
			w.Load(b, valid)
		},
		// Between the trips: keep the events at or after the stored
		// offsets and let the read model fold them (and COPY).
		func(ctx context.Context, conn *pgx.Conn) error {
			sel = selectFresh(batch, reasons, next)
			return w.Apply(ctx, conn, sel.fresh)
		},
		// Trip 2: the read model's writes and the offsets.
		func() (*pgx.Batch, error) {
			b := &pgx.Batch{}
			if err := w.Save(b); err != nil {
				return nil, err
			}
			pgstore.QueueSaveOffsets(b, t.Schema, Name, topic, sel.moved)
			return b, nil
		})
	if err != nil {
		return nil, err
	}
	return sel.rejected, nil
}

// selectFresh keeps the events at or after the stored offsets, splitting
// off those never storable, and computes the new offsets.
func selectFresh(batch []sinks.Event, reasons []string, next map[int32]int64) *selected {
	s := &selected{moved: map[int32]int64{}}
	for i, ev := range batch {
		if ev.Offset < next[ev.Partition] {
			continue
		}
		if ev.Offset+1 > s.moved[ev.Partition] {
			s.moved[ev.Partition] = ev.Offset + 1
		}
		if reasons[i] != "" {
			s.rejected = append(s.rejected, sinks.Rejected{Event: ev, Reason: reasons[i]})
			continue
		}
		s.fresh = append(s.fresh, ev)
	}
	return s
}
