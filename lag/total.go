package lag

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// GroupTotal is the lag of one group summed over its partitions: the
// one-line total `prism lag` prints per group and `--limit-lag` compares.
type GroupTotal struct {
	Aggregate  string
	Group      string
	Partitions int   // rows with a partition (a group with none counts 0)
	Lag        int64 // -1 when the lag of a partition is unknown (Total)
}

// Totals sums rows per group (Total), in the order the groups first
// appear in rows (Label sorts them by aggregate and group).
func Totals(rows []Row) []GroupTotal {
	sums := Total(rows)
	var out []GroupTotal
	at := map[string]int{}
	for _, r := range rows {
		i, seen := at[r.Group]
		if !seen {
			i = len(out)
			at[r.Group] = i
			out = append(out, GroupTotal{Aggregate: r.Aggregate, Group: r.Group, Lag: sums[r.Group]})
		}
		if r.Partition >= 0 {
			out[i].Partitions++
		}
	}
	return out
}

// Exceeds reports whether the group's total lag is above limit, or unknown
// (a health check must not pass a group whose lag it could not measure).
func (t GroupTotal) Exceeds(limit int64) bool { return t.Lag < 0 || t.Lag > limit }

// OverMax returns the totals that exceed limit (GroupTotal.Exceeds); none
// when limit < 0, which means "no --limit-lag".
func OverMax(totals []GroupTotal, limit int64) []GroupTotal {
	if limit < 0 {
		return nil
	}
	var out []GroupTotal
	for _, t := range totals {
		if t.Exceeds(limit) {
			out = append(out, t)
		}
	}
	return out
}

// PrintTotals writes one line per group under its own header, AGGREGATE
// GROUP PARTITIONS LAG MAX-LAG OVER: LAG "-" when unknown, MAX-LAG and OVER
// "-" without --limit-lag (limit < 0), else OVER "yes" or "no".
func PrintTotals(w io.Writer, totals []GroupTotal, limit int64) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGGREGATE\tGROUP\tPARTITIONS\tLAG\tMAX-LAG\tOVER")
	for _, t := range totals {
		agg, lag, maxText, over := t.Aggregate, "-", "-", "-"
		if agg == "" {
			agg = "-"
		}
		if t.Lag >= 0 {
			lag = strconv.FormatInt(t.Lag, 10)
		}
		if limit >= 0 {
			maxText, over = strconv.FormatInt(limit, 10), "no"
			if t.Exceeds(limit) {
				over = "yes"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", agg, t.Group, t.Partitions, lag, maxText, over)
	}
	return tw.Flush()
}

// PrintTotalsJSON writes one JSON object per group: total (true, telling
// it from a partition row), aggregate, group, partition (-1: not a
// partition), partitions, lag (-1 unknown), maxLag (-1 without --limit-lag)
// and over (false without --limit-lag).
func PrintTotalsJSON(w io.Writer, totals []GroupTotal, limit int64) error {
	enc := json.NewEncoder(w)
	for _, t := range totals {
		if err := enc.Encode(map[string]any{
			"total": true, "aggregate": t.Aggregate, "group": t.Group, "partition": -1, "partitions": t.Partitions,
			"lag": t.Lag, "maxLag": limit, "over": limit >= 0 && t.Exceeds(limit),
		}); err != nil {
			return fmt.Errorf("write lag total of %s: %w", t.Group, err)
		}
	}
	return nil
}
