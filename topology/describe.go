package topology

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Describe prints the spec as text: a table of topics (partitions,
// replication factor, cleanup, retention, size limit, key, value), a table
// of stages (aggregate, group, what each reads and writes) and the steps of
// each kind of stage.
func Describe(s Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Topology of namespace %s, aggregates %s\n\nTopics\n", s.Namespace, strings.Join(s.Aggregates, ", "))
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tRF\tCLEANUP\tRETENTION\tMAX BYTES\tKEY\tVALUE\tNOTES")
	for _, t := range s.Topics {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
			t.Name, t.Partitions, t.ReplicationFactor, t.Configs[ConfigCleanupPolicy], retention(t),
			t.Configs[ConfigMaxMessageBytes], t.Key, t.Value, t.Notes)
	}
	w.Flush()

	fmt.Fprintf(&b, "\nStages\n")
	w = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "AGGREGATE\tSTAGE\tKIND\tGROUP\tREADS\tWRITES\tTARGETS")
	for _, st := range s.Stages {
		reads := strings.Join(st.Reads, ", ")
		if len(st.Restores) > 0 {
			reads += " (restores from " + strings.Join(st.Restores, ", ") + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Aggregate, st.Name, st.Kind, dash(st.Group), dash(reads),
			dash(strings.Join(st.Writes, ", ")), dash(strings.Join(st.Targets, ", ")))
	}
	w.Flush()

	// Every aggregate's stages take the same steps: each stage name once.
	fmt.Fprintf(&b, "\nSteps\n")
	printed := map[string]bool{}
	for _, st := range s.Stages {
		if printed[st.Name] {
			continue
		}
		printed[st.Name] = true
		fmt.Fprintf(&b, "  %s: %s\n", st.Name, strings.Join(st.Steps, " -> "))
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// retention says how long a topic keeps records, in words.
func retention(t TopicSpec) string {
	var parts []string
	policy := normalizePolicy(t.Configs[ConfigCleanupPolicy])
	if strings.Contains(policy, "delete") {
		if v, ok := t.Configs[ConfigRetentionMs]; ok {
			parts = append(parts, humanMillis(v))
		}
	}
	if strings.Contains(policy, "compact") {
		if v, ok := t.Configs[ConfigMinCompactionLagMs]; ok {
			parts = append(parts, "compaction lag "+humanMillis(v))
		}
		if policy == "compact" {
			parts = append(parts, "last value per key forever")
		}
	}
	return dash(strings.Join(parts, ", "))
}

// humanMillis prints a millisecond count the way people say it: "7 d",
// "12 h", "forever".
func humanMillis(v string) string {
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return v
	case n < 0:
		return "forever"
	case n == 0:
		return "0"
	}
	for _, u := range []struct {
		ms   int64
		name string
	}{{86_400_000, "d"}, {3_600_000, "h"}, {60_000, "min"}, {1000, "s"}} {
		if n%u.ms == 0 {
			return fmt.Sprintf("%d %s", n/u.ms, u.name)
		}
	}
	return fmt.Sprintf("%d ms", n)
}
