package status

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
)

// rejectedLog is what the Collector knows of one aggregate's results
// topic: where it stopped reading each partition and the latest rejected
// commands, newest first.
type rejectedLog struct {
	next map[int32]int64
	list []Rejected
}

// update reads the results records written since the last reading (at
// most ResultsScan per partition, the latest), keeps those with accepted
// false and returns the latest Rejected of them. It reads committed
// records only (the processor writes results in transactions), up to the
// last stable offset; the transactions' control records are read too so
// that the end is recognised when the log ends with a marker. Reading
// stops after twice SettleWait even if a partition did not reach its end.
func (l *rejectedLog) update(ctx context.Context, c *Collector, a Aggregate) ([]Rejected, error) {
	topic := a.Names.ResultsTopic()
	stable, err := c.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return l.list, fmt.Errorf("list stable offsets of %s: %w", topic, err)
	}
	starts, err := c.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return l.list, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	from := map[int32]kgo.Offset{}
	bound := map[int32]int64{}
	for p, o := range stable[topic] {
		if p < 0 || o.Err != nil {
			continue
		}
		if o.Offset < l.next[p] { // the topic was recreated
			l.next[p] = 0
		}
		at := max(l.next[p], o.Offset-int64(c.cfg.ResultsScan))
		if s, ok := starts.Lookup(topic, p); ok && s.Err == nil {
			at = max(at, s.Offset)
		}
		if at >= o.Offset {
			continue
		}
		from[p] = kgo.NewOffset().At(at)
		bound[p] = o.Offset
	}
	if len(from) == 0 {
		return l.list, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(c.cfg.Kafka),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(c.cfg.SettleWait/4+1),
	)...)
	if err != nil {
		return l.list, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*c.cfg.SettleWait)
	defer cancel()
	pos := map[int32]int64{}
	var found []Rejected
	var decodeErr error
	for !reached(pos, bound) {
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			break
		}
		for _, fe := range fs.Errors() {
			return l.list, fmt.Errorf("read %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			pos[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() || r.Value == nil {
				return
			}
			res, err := a.Results.DecodeResult(r.Value)
			if err != nil {
				decodeErr = fmt.Errorf("decode %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			if res.Accepted {
				return
			}
			found = append(found, Rejected{CommandID: res.CommandID, AggregateID: res.AggregateID, Reason: res.Reason,
				Message: res.Message, Field: res.Field, Time: r.Timestamp.UTC(), Partition: r.Partition, Offset: r.Offset})
		})
	}
	if err := ctx.Err(); err != nil {
		return l.list, err
	}
	// Every partition counts as read to its bound, also one that did not
	// get there within the wait (a compacted tail, a slow broker): reading
	// it again at every reading would cost the wait each time; what is
	// missed is only not listed.
	for p, b := range bound {
		l.next[p] = max(b, pos[p])
	}
	l.list = latest(append(found, l.list...), c.cfg.Rejected)
	return l.list, decodeErr
}

// reached reports whether every partition was read up to its bound.
func reached(pos, bound map[int32]int64) bool {
	for p, b := range bound {
		if pos[p] < b {
			return false
		}
	}
	return true
}

// latest orders rs newest first (time, then partition and offset) and
// keeps n, dropping a command seen twice.
func latest(rs []Rejected, n int) []Rejected {
	sort.SliceStable(rs, func(i, j int) bool {
		if !rs[i].Time.Equal(rs[j].Time) {
			return rs[i].Time.After(rs[j].Time)
		}
		if rs[i].Partition != rs[j].Partition {
			return rs[i].Partition < rs[j].Partition
		}
		return rs[i].Offset > rs[j].Offset
	})
	out := make([]Rejected, 0, min(n, len(rs)))
	seen := map[[2]int64]bool{}
	for _, r := range rs {
		k := [2]int64{int64(r.Partition), r.Offset}
		if seen[k] || len(out) == n {
			continue
		}
		seen[k] = true
		out = append(out, r)
	}
	return out
}
