package lag

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SettleMarkers corrects the lag of groups reading transactional topics.
// A row with Committed -1 (FromLogStart) is read from the log start.
//
// A transaction ends with a commit marker: a control record that takes an
// offset but is never handed to a consumer. A read_committed group that has
// consumed everything commits the offset after its last data record, which
// is the marker's offset, so the raw lag stays at 1 (or more, one per
// trailing marker) forever. SettleMarkers reads, with read_committed and
// the markers kept, from the committed offset of every row whose lag is
// positive: when the read reaches the partition's last record (offset End
// - 1) and no data record came back before it, the group has nothing left
// to read and its lag is set to 0. A lag that stays positive may still
// count markers between unread records; it is 0 exactly when the group is
// caught up, which is what a rebuild's swap waits for.
//
// It waits at most wait for the fetches. A row whose read did not reach
// its end by then keeps its raw lag and is marked Unsettled: silence is
// not proof that only markers are left (a broker or a machine too busy to
// answer within wait would otherwise turn any lag into 0, and `prism lag
// --max-lag 0` would pass while the sinks are far behind: the failed chaos
// run of docs/chaos.md).
func SettleMarkers(ctx context.Context, opts []kgo.Opt, rows []Row, wait time.Duration) ([]Row, error) {
	type tp struct {
		topic string
		p     int32
	}
	// Several groups may read one partition (the four sinks): one fetch
	// from the lowest of their offsets serves them all.
	pending := map[tp][]int{} // → indices in rows
	from := func(r Row) int64 { return max(r.Committed, 0) }
	offsets := map[string]map[int32]kgo.Offset{}
	total := 0
	for i, r := range rows {
		if r.Partition < 0 || r.Err != nil || r.Lag <= 0 {
			continue
		}
		k := tp{r.Topic, r.Partition}
		pending[k] = append(pending[k], i)
		total++
		if offsets[r.Topic] == nil {
			offsets[r.Topic] = map[int32]kgo.Offset{}
		}
		lowest := r
		for _, j := range pending[k] {
			if from(rows[j]) < from(lowest) {
				lowest = rows[j]
			}
		}
		at := kgo.NewOffset().At(lowest.Committed)
		if lowest.Committed < 0 { // never committed: lag counted from the log start (FromLogStart)
			at = kgo.NewOffset().AtStart()
		}
		offsets[r.Topic][r.Partition] = at
	}
	if total == 0 {
		return rows, nil
	}
	all := append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The markers come back as control records: the read can tell
		// that it reached a partition's last offset.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(wait/4+time.Millisecond),
	)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("settle lag markers: kafka client: %w", err)
	}
	defer cl.Close()

	out := append([]Row(nil), rows...)
	hasData := map[int]bool{} // row index → a data record lies between its offset and its end
	reached := map[int]bool{} // row index → the read got to its last offset (End - 1)
	done := func(i int) bool { return hasData[i] || reached[i] }
	left := total
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for left > 0 {
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			break
		}
		for _, fe := range fs.Errors() {
			if fe.Err == context.DeadlineExceeded || fe.Err == context.Canceled {
				continue
			}
			return nil, fmt.Errorf("settle lag markers: fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			for _, i := range pending[tp{r.Topic, r.Partition}] {
				if done(i) {
					continue
				}
				switch {
				case !r.Attrs.IsControl() && r.Offset >= from(out[i]) && r.Offset < out[i].End:
					hasData[i] = true
				case r.Offset >= out[i].End-1:
					reached[i] = true
				}
				if done(i) {
					left--
				}
			}
		})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("settle lag markers: %w", err)
	}
	for _, idx := range pending {
		for _, i := range idx {
			switch {
			case hasData[i]:
			case reached[i]:
				out[i].Lag = 0
			default:
				out[i].Unsettled = true
			}
		}
	}
	return out, nil
}
