package rebuild

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Print writes the plan as a table, one row per partition and a total:
//
//	PARTITION  FROM  TO   RECORDS  LOG START  NOTE
//	0          120   450  330      0
//	total                 330
//
// RECORDS is an upper bound (see PartitionPlan.Records).
func (p Plan) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "topic %s, start %s\n", p.Topic, p.Spec)
	fmt.Fprintln(tw, "PARTITION\tFROM\tTO\tRECORDS\tLOG START\tNOTE")
	for _, pp := range p.Partitions {
		note := ""
		if pp.Committed != nil {
			note = fmt.Sprintf("committed %d", *pp.Committed)
		}
		if pp.Clamped != "" {
			if note != "" {
				note += ", "
			}
			note += "clamped to " + pp.Clamped
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%s\n", pp.Partition, pp.From, pp.To, pp.Records, pp.LogStart, note)
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t\t(at most: transaction markers and compaction take offsets)\n", p.Total())
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print plan of %s: %w", p.Topic, err)
	}
	return nil
}

// planJSON is the JSON form: the plan and its total.
type planJSON struct {
	Plan
	Records int64 `json:"records"`
}

// PrintJSON writes the plan as one JSON object: topic, group (shift-by),
// spec, partitions (partition, from, to, records, log_start, clamped,
// committed) and records, the total.
func (p Plan) PrintJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(planJSON{Plan: p, Records: p.Total()}); err != nil {
		return fmt.Errorf("print plan of %s as JSON: %w", p.Topic, err)
	}
	return nil
}
