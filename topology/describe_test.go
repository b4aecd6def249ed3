package topology

import (
	"regexp"
	"strings"
	"testing"
)

func TestDescribeText(t *testing.T) {
	s, err := NewSpec(SpecConfig{Aggregates: []string{"payments"}, Namespace: "m", Partitions: 6})
	if err != nil {
		t.Fatal(err)
	}
	out := Describe(s)
	lines := strings.Split(out, "\n")
	row := func(prefix string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == prefix {
				return f
			}
		}
		t.Fatalf("no row for %s in:\n%s", prefix, out)
		return nil
	}
	for _, tc := range []struct{ topic, cleanup, retention string }{
		{"m.payments.commands", "delete", "7"},
		{"m.payments.events", "compact", "compaction"},
		{"m.payments.command-results", "compact,delete", "1"},
		{"m.payments.commands.dlq", "delete", "30"},
		{"m.payments.events.dlq", "delete", "30"},
	} {
		f := row(tc.topic)
		if f[1] != "6" || f[2] != "1" || f[3] != tc.cleanup || f[4] != tc.retention {
			t.Errorf("row %q: want partitions 6, rf 1, cleanup %s, retention starting %s", f, tc.cleanup, tc.retention)
		}
	}
	for _, group := range []string{"m.processor.payments", "m.sink.postgres", "m.sink.readmodels", "m.sink.redis", "m.sink.elasticsearch"} {
		if !strings.Contains(out, group) {
			t.Errorf("describe does not show group %s", group)
		}
	}
}

var (
	mermaidNode = regexp.MustCompile(`^\s+([A-Za-z0-9_]+)(\[\[|\{\{|\(\[|\[\()"([^"]*)"`)
	mermaidEdge = regexp.MustCompile(`^\s+([A-Za-z0-9_]+) (-->|-\. [a-z -]+ \.->|-\. [a-z -]+ \.-) ([A-Za-z0-9_]+)$`)
)

func TestMermaidGraph(t *testing.T) {
	s, err := NewSpec(SpecConfig{Aggregates: []string{"payments", "invoices"}, Namespace: "m"})
	if err != nil {
		t.Fatal(err)
	}
	out := Mermaid(s)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if lines[0] != "flowchart LR" {
		t.Fatalf("first line %q", lines[0])
	}
	labels := map[string]string{} // node id -> label
	edges := map[string]bool{}    // "from arrow to" with labels replaced by ids
	for _, l := range lines[1:] {
		switch {
		case strings.TrimSpace(l) == "end" || strings.HasPrefix(strings.TrimSpace(l), "subgraph "):
		case mermaidNode.MatchString(l):
			m := mermaidNode.FindStringSubmatch(l)
			if _, dup := labels[m[1]]; dup {
				t.Errorf("node %s declared twice", m[1])
			}
			labels[m[1]] = m[3]
		case mermaidEdge.MatchString(l):
			m := mermaidEdge.FindStringSubmatch(l)
			edges[m[1]+" "+m[2]+" "+m[3]] = true
		default:
			t.Errorf("line is neither a node nor an edge: %q", l)
		}
	}
	// Every edge joins declared nodes; rewrite edges with labels' first
	// words, which is what a reader of the drawing sees.
	seen := map[string]bool{}
	for e := range edges {
		f := strings.SplitN(e, " ", 2)
		from := f[0]
		rest := f[1]
		to := rest[strings.LastIndex(rest, " ")+1:]
		arrow := rest[:strings.LastIndex(rest, " ")]
		for _, id := range []string{from, to} {
			if _, ok := labels[id]; !ok {
				t.Errorf("edge %q uses undeclared node %s", e, id)
			}
		}
		name := func(id string) string { return strings.SplitN(labels[id], "<br/>", 2)[0] }
		seen[name(from)+" "+arrow+" "+name(to)] = true
	}
	var want []string
	for _, a := range []string{"payments", "invoices"} {
		topic := "m." + a + "."
		want = append(want,
			a+" produce --> "+topic+"commands",
			topic+"command-results --> "+a+" produce",
			topic+"commands --> "+a+" processor",
			topic+"events -. restore state .-> "+a+" processor",
			a+" processor --> "+topic+"events",
			a+" processor --> "+topic+"command-results",
			a+" processor --> "+topic+"commands.dlq",
			topic+"commands -. co-partitioned .- "+topic+"events",
			a+" sink postgres --> postgres schema m: "+a+" table",
			a+" sink readmodels --> postgres schema m: "+a+" read models",
			a+" sink elasticsearch --> elasticsearch alias m-"+a,
			a+" sink redis --> redis keys m:*",
		)
		for _, sink := range []string{"postgres", "readmodels", "redis", "elasticsearch"} {
			want = append(want, topic+"events --> "+a+" sink "+sink, a+" sink "+sink+" --> "+topic+"events.dlq")
		}
	}
	if len(seen) != len(want) {
		t.Errorf("graph has %d distinct edges, want %d", len(seen), len(want))
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("graph lacks edge %q", w)
		}
	}
}

func TestHumanMillis(t *testing.T) {
	for in, want := range map[string]string{
		"604800000": "7 d", "86400000": "1 d", "2592000000": "30 d", "3600000": "1 h",
		"90000": "90 s", "120000": "2 min", "1500": "1500 ms", "-1": "forever", "x": "x",
	} {
		if got := humanMillis(in); got != want {
			t.Errorf("humanMillis(%s) = %q, want %q", in, got, want)
		}
	}
}
