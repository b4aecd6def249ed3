package lag

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/internal/readmetest"
)

// TestREADMELagFormat holds the README's lag paragraph to the code: the
// table header Print writes, and the keys of each --json row.
func TestREADMELagFormat(t *testing.T) {
	m := regexp.MustCompile("`prism lag` prints `([A-Z ]+)`\\s*\\(`--json`: one object per row: ([^)]*)\\)").FindStringSubmatch(readmetest.Read(t))
	if m == nil {
		t.Fatal("README has no \"`prism lag` prints `HEADER` (`--json`: one object per row: ...)\" sentence")
	}
	rows := []Row{
		{Aggregate: "a", Group: "g", State: "Stable", Topic: "t", Partition: 0, Committed: 3, End: 5, Lag: 2},
		{Aggregate: "a", Group: "g", State: "Dead", Topic: "t", Partition: 1, Committed: -1, End: 4, Lag: 4},
	}
	var table bytes.Buffer
	if err := Print(&table, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(table.String(), "\n")
	if got := strings.Join(strings.Fields(lines[0]), " "); got != m[1] {
		t.Errorf("header %q, README says %q", got, m[1])
	}
	if f := strings.Fields(lines[2]); len(f) < 7 || f[5] != "-" || f[7] != "4" {
		t.Errorf("never-committed row %q: want COMMITTED - and LAG 4 (from the log start)", lines[2])
	}

	var documented []string
	for _, k := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(m[2], -1) {
		documented = append(documented, k[1])
	}
	slices.Sort(documented)
	var js bytes.Buffer
	if err := PrintJSON(&js, rows[:1]); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(js.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(obj)); !slices.Equal(got, documented) {
		t.Errorf("--json keys %v, README lists %v", got, documented)
	}
}

// TestREADMELagTotalsFormat holds the README's total-line sentence to the
// code: the header PrintTotals writes and the keys of each --json total.
func TestREADMELagTotalsFormat(t *testing.T) {
	m := regexp.MustCompile("`prism lag` then prints\\s+`([A-Z -]+)`\\s*\\(`--json`: one object per group after the rows:\\s+([^.]*)\\)\\.").FindStringSubmatch(readmetest.Read(t))
	if m == nil {
		t.Fatal("README has no \"`prism lag` then prints `HEADER` (`--json`: one object per group after the rows: ...).\" sentence")
	}
	totals := []GroupTotal{{Aggregate: "a", Group: "g", Partitions: 2, Lag: 7}}
	var table bytes.Buffer
	if err := PrintTotals(&table, totals, 5); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(strings.Split(table.String(), "\n")[0]), " "); got != m[1] {
		t.Errorf("totals header %q, README says %q", got, m[1])
	}
	var documented []string
	for _, k := range regexp.MustCompile("`([a-zA-Z]+)`(?: \\([^)]*\\))?").FindAllStringSubmatch(m[2], -1) {
		documented = append(documented, k[1])
	}
	slices.Sort(documented)
	var js bytes.Buffer
	if err := PrintTotalsJSON(&js, totals, 5); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(js.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(obj)); !slices.Equal(got, documented) {
		t.Errorf("--json total keys %v, README lists %v", got, documented)
	}
}
