package rebuild

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPrint(t *testing.T) {
	five := int64(5)
	p := Plan{Topic: "payments-events", Group: "g", Spec: "--shift-by -3", Partitions: []PartitionPlan{
		{Partition: 0, From: 2, To: 10, Records: 8, LogStart: 2, Committed: &five},
		{Partition: 1, From: 0, To: 6, Records: 6, LogStart: 0, Clamped: "log start"},
	}}
	var b bytes.Buffer
	if err := p.Print(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	want := [][]string{
		{"topic", "payments-events,", "start", "--shift-by", "-3"},
		{"PARTITION", "FROM", "TO", "RECORDS", "LOG", "START", "NOTE"},
		{"0", "2", "10", "8", "2", "committed", "5"},
		{"1", "0", "6", "6", "0", "clamped", "to", "log", "start"},
		{"total", "14", "(at", "most:", "transaction", "markers", "and", "compaction", "take", "offsets)"},
	}
	if len(lines) != len(want) {
		t.Fatalf("printed %d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d = %q, want fields %q", i, lines[i], w)
		}
	}

	b.Reset()
	if err := p.PrintJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Topic, Group, Spec string
		Records            int64
		Partitions         []struct {
			Partition int32
			F         int64 `json:"from"`
			T         int64 `json:"to"`
			R         int64 `json:"records"`
			L         int64 `json:"log_start"`
			Clamped   string
			Committed *int64
		}
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("JSON %s: %v", b.String(), err)
	}
	if got.Topic != "payments-events" || got.Group != "g" || got.Spec != "--shift-by -3" || got.Records != 14 || len(got.Partitions) != 2 {
		t.Fatalf("JSON = %+v", got)
	}
	p1 := got.Partitions[1]
	if p1.Partition != 1 || p1.F != 0 || p1.T != 6 || p1.R != 6 || p1.L != 0 || p1.Clamped != "log start" || p1.Committed != nil {
		t.Errorf("JSON partition 1 = %+v", p1)
	}
	if c := got.Partitions[0].Committed; c == nil || *c != 5 {
		t.Errorf("JSON partition 0 committed = %v, want 5", c)
	}
}
