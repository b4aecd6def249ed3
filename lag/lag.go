// Package lag reports, per consumer group and partition, the committed
// offset, the end offset and the distance between them: what `prism lag`
// prints for every aggregate's processor and sink groups, and what a
// side-by-side rebuild waits on before swapping.
package lag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/prism-cqrs/prism/topology"
)

// CoordinatorWait bounds how long Describe waits for the group coordinator
// of a fresh cluster to come up.
const CoordinatorWait = 20 * time.Second

// coordinatorStarting reports whether err is the coordinator of a fresh
// cluster (or one just elected) not answering yet.
func coordinatorStarting(err error) bool {
	return errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.CoordinatorLoadInProgress) || errors.Is(err, kerr.NotCoordinator)
}

// Group is one consumer group of the pipeline: the aggregate it serves,
// its name and the topic it reads.
type Group struct {
	Aggregate string
	Name      string
	Reads     string
}

// Groups lists the consumer groups of one aggregate's stages
// (topology.StagesFor): its processor group, then each sink group, labelled
// aggregate (its name as `prism lag` shows it).
func Groups(aggregate string, n topology.Names) []Group {
	var out []Group
	for _, st := range topology.StagesFor(n) {
		if st.Group != "" && len(st.Reads) > 0 {
			out = append(out, Group{Aggregate: aggregate, Name: st.Group, Reads: st.Reads[0]})
		}
	}
	return out
}

// Reads maps each group's name to the topic it reads (FromLogStart).
func Reads(groups []Group) map[string]string {
	out := make(map[string]string, len(groups))
	for _, g := range groups {
		out[g.Name] = g.Reads
	}
	return out
}

// Label sets the Aggregate of every row whose group is one of groups and
// sorts the rows by aggregate, group, topic and partition.
func Label(rows []Row, groups []Group) []Row {
	agg := make(map[string]string, len(groups))
	for _, g := range groups {
		agg[g.Name] = g.Aggregate
	}
	for i := range rows {
		rows[i].Aggregate = agg[rows[i].Group]
	}
	sortRows(rows)
	return rows
}

// Row is the lag of one group on one partition.
type Row struct {
	// Aggregate is the aggregate the group serves (set by Label; "" for a
	// group outside the pipeline).
	Aggregate string
	Group     string
	State     string // group state: Stable, Empty, PreparingRebalance, Dead...
	Topic     string
	Partition int32
	Committed int64 // -1: nothing committed yet (see FromLogStart)
	End       int64
	Lag       int64 // -1 when it cannot be computed (see Err)
	// Unsettled: SettleMarkers could not read to the end within its wait,
	// so Lag is the raw count (it may count commit markers only).
	Unsettled bool
	Member    string
	Err       error
}

// Describe computes the lag of each group. A group that does not exist is
// reported with State "Dead" and no rows' worth of partitions rather than an
// error, so a dashboard can show it. Only an error reaching the cluster fails.
//
// On a cluster where no group ever ran, the group coordinator does not exist
// yet (Kafka creates __consumer_offsets on the first request for one): the
// brokers answer COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS
// for a few seconds. Describe retries those within CoordinatorWait (and ctx).
func Describe(ctx context.Context, adm *kadm.Client, groups ...string) ([]Row, error) {
	lags, err := adm.Lag(ctx, groups...)
	for deadline, wait := time.Now().Add(CoordinatorWait), 100*time.Millisecond; err != nil && coordinatorStarting(err) && time.Now().Before(deadline); wait = min(2*wait, time.Second) {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("describe lag of %v: %w (gave up: %w)", groups, err, ctx.Err())
		case <-time.After(wait):
		}
		lags, err = adm.Lag(ctx, groups...)
	}
	if err != nil {
		return nil, fmt.Errorf("describe lag of %v: %w", groups, err)
	}
	var rows []Row
	for _, g := range lags.Sorted() {
		if gerr := g.Error(); gerr != nil {
			rows = append(rows, Row{Group: g.Group, State: g.State, Partition: -1, Committed: -1, End: -1, Lag: -1, Err: gerr})
			continue
		}
		if len(g.Lag) == 0 {
			rows = append(rows, Row{Group: g.Group, State: g.State, Partition: -1, Committed: -1, End: -1, Lag: -1})
			continue
		}
		for _, l := range g.Lag.Sorted() {
			r := Row{
				Group: g.Group, State: g.State, Topic: l.Topic, Partition: l.Partition,
				Committed: l.Commit.At, End: l.End.Offset, Lag: l.Lag, Err: l.Err,
			}
			if l.Member != nil {
				r.Member = l.Member.ClientID + "/" + l.Member.ClientHost
			}
			rows = append(rows, r)
		}
	}
	sortRows(rows)
	return rows, nil
}

// sortRows orders rows by aggregate, group, topic and partition.
func sortRows(rows []Row) {
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Aggregate != rows[j].Aggregate {
			return rows[i].Aggregate < rows[j].Aggregate
		}
		if rows[i].Group != rows[j].Group {
			return rows[i].Group < rows[j].Group
		}
		if rows[i].Topic != rows[j].Topic {
			return rows[i].Topic < rows[j].Topic
		}
		return rows[i].Partition < rows[j].Partition
	})
}

// Total sums the lag of rows per group; a row whose lag is unknown makes the
// group's total -1.
func Total(rows []Row) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rows {
		cur, seen := out[r.Group]
		switch {
		case seen && cur < 0:
		case r.Lag < 0 && r.Partition >= 0:
			out[r.Group] = -1
		case r.Partition < 0:
			if !seen {
				out[r.Group] = 0
			}
		default:
			out[r.Group] = cur + r.Lag
		}
	}
	return out
}

// Print writes rows as an aligned table, the aggregate first ("-" for a
// group outside the pipeline).
func Print(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGGREGATE\tGROUP\tSTATE\tTOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER\tERROR")
	for _, r := range rows {
		errText := ""
		if r.Err != nil {
			errText = r.Err.Error()
		}
		agg := r.Aggregate
		if agg == "" {
			agg = "-"
		}
		if r.Partition < 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t%s\n", agg, r.Group, r.State, errText)
			continue
		}
		committed, end, lag := "-", "-", "-"
		if r.Committed >= 0 {
			committed = strconv.FormatInt(r.Committed, 10)
		}
		if r.End >= 0 {
			end = strconv.FormatInt(r.End, 10)
		}
		if r.Lag >= 0 {
			lag = strconv.FormatInt(r.Lag, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", agg, r.Group, r.State, r.Topic, r.Partition, committed, end, lag, r.Member, errText)
	}
	return tw.Flush()
}

// PrintJSON writes rows as JSON lines, one object per row: aggregate
// ("" outside the pipeline), group, state, topic, partition, committed,
// end, lag, error; -1 where Print shows "-".
func PrintJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		errText := ""
		if r.Err != nil {
			errText = r.Err.Error()
		}
		if err := enc.Encode(map[string]any{
			"aggregate": r.Aggregate, "group": r.Group, "state": r.State, "topic": r.Topic, "partition": r.Partition,
			"committed": r.Committed, "end": r.End, "lag": r.Lag, "error": errText,
		}); err != nil {
			return fmt.Errorf("write lag row: %w", err)
		}
	}
	return nil
}

// CaughtUp reports whether every group in groups has committed on at least
// one partition and no row shows lag or an error: each group has read
// everything there is (use rows from SettleMarkers on transactional topics).
func CaughtUp(rows []Row, groups []string) bool {
	committed := map[string]bool{}
	for _, r := range rows {
		if r.Partition < 0 || r.Err != nil || r.Lag != 0 {
			return false
		}
		if r.Committed >= 0 {
			committed[r.Group] = true
		}
	}
	for _, g := range groups {
		if !committed[g] {
			return false
		}
	}
	return true
}
