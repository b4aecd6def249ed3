package lag

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SettleMarkers corrects the lag of groups reading transactional topics.
//
// A transaction ends with a commit marker: a control record that takes an
// offset but is never handed to a consumer. A read_committed group that has
// consumed everything commits the offset after its last data record, which
// is the marker's offset, so the raw lag stays at 1 (or more, one per
// trailing marker) forever. SettleMarkers reads, with read_committed, from
// the committed offset of every row whose lag is positive: when no data
// record comes back before the end offset, the group has nothing left to
// read and its lag is set to 0. A lag that stays positive may still count
// markers between unread records; it is 0 exactly when the group is caught
// up, which is what a rebuild's swap waits for.
//
// It waits at most wait for the fetches; a partition still silent by then
// counts as caught up, so keep wait well above the broker's fetch latency.
func SettleMarkers(ctx context.Context, opts []kgo.Opt, rows []Row, wait time.Duration) ([]Row, error) {
	type tp struct {
		topic string
		p     int32
	}
	pending := map[tp]int{} // → index in rows
	offsets := map[string]map[int32]kgo.Offset{}
	for i, r := range rows {
		if r.Partition < 0 || r.Err != nil || r.Committed < 0 || r.Lag <= 0 {
			continue
		}
		pending[tp{r.Topic, r.Partition}] = i
		if offsets[r.Topic] == nil {
			offsets[r.Topic] = map[int32]kgo.Offset{}
		}
		offsets[r.Topic][r.Partition] = kgo.NewOffset().At(r.Committed)
	}
	if len(pending) == 0 {
		return rows, nil
	}
	all := append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(wait/4+time.Millisecond),
	)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("settle lag markers: kafka client: %w", err)
	}
	defer cl.Close()

	out := append([]Row(nil), rows...)
	hasData := map[tp]bool{}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for len(hasData) < len(pending) {
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
			k := tp{r.Topic, r.Partition}
			if i, ok := pending[k]; ok && r.Offset < out[i].End {
				hasData[k] = true
			}
		})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("settle lag markers: %w", err)
	}
	for k, i := range pending {
		if !hasData[k] {
			out[i].Lag = 0
		}
	}
	return out, nil
}
