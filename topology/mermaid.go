package topology

import (
	"fmt"
	"strings"
)

// Mermaid draws the spec as a Mermaid flowchart: topics (inside a Kafka
// subgraph), every aggregate's stages with their consumer groups, the read sources the sinks
// write, and an edge for every read, write and state restore. Paste it into
// a ```mermaid block.
func Mermaid(s Spec) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	topicID := map[string]string{}
	fmt.Fprintf(&b, "  subgraph kafka[\"Kafka, namespace %s\"]\n", s.Namespace)
	for _, t := range s.Topics {
		id := "t_" + mermaidID(t.Aggregate+"_"+string(t.Role))
		topicID[t.Name] = id
		fmt.Fprintf(&b, "    %s[[\"%s<br/>%d partitions, %s, %s\"]]\n", id, t.Name, t.Partitions,
			t.Configs[ConfigCleanupPolicy], retention(t))
	}
	b.WriteString("  end\n")
	var edges []string
	target := 0
	for _, st := range s.Stages {
		id := "s_" + mermaidID(st.Aggregate+"_"+st.Name)
		label := st.Aggregate + " " + st.Name
		if st.Group != "" {
			label += "<br/>group " + st.Group
		}
		switch st.Kind {
		case KindProcessor:
			fmt.Fprintf(&b, "  %s{{\"%s\"}}\n", id, label)
		default:
			fmt.Fprintf(&b, "  %s([\"%s\"])\n", id, label)
		}
		for _, t := range st.Reads {
			edges = append(edges, fmt.Sprintf("  %s --> %s", topicID[t], id))
		}
		for _, t := range st.Restores {
			edges = append(edges, fmt.Sprintf("  %s -. restore state .-> %s", topicID[t], id))
		}
		for _, t := range st.Writes {
			edges = append(edges, fmt.Sprintf("  %s --> %s", id, topicID[t]))
		}
		for _, x := range st.Targets {
			target++
			tid := fmt.Sprintf("x_%d", target)
			fmt.Fprintf(&b, "  %s[(\"%s\")]\n", tid, x)
			edges = append(edges, fmt.Sprintf("  %s --> %s", id, tid))
		}
	}
	for _, a := range s.Aggregates {
		cmd, ok1 := s.Topic(a, RoleCommands)
		ev, ok2 := s.Topic(a, RoleEvents)
		if ok1 && ok2 {
			edges = append(edges, fmt.Sprintf("  %s -. co-partitioned .- %s", topicID[cmd.Name], topicID[ev.Name]))
		}
	}
	b.WriteString(strings.Join(edges, "\n"))
	b.WriteByte('\n')
	return b.String()
}

// mermaidID keeps letters and digits and turns the rest into '_'.
func mermaidID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
