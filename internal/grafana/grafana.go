// Package grafana reads the Grafana dashboard of deploy/grafana and
// extracts the metric names its PromQL queries use, so that tests can hold
// the dashboard to the metrics the components export.
package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Dashboard is the part of a Grafana dashboard model the checks read.
type Dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is one panel (a row is a panel of type "row", with no target).
type Panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Targets []Target `json:"targets"`
}

// Target is one query of a panel.
type Target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

// Variable is one templating variable; a query variable's query is a
// string or an object holding it.
type Variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
}

// Query is one PromQL expression of the dashboard and where it is.
type Query struct {
	Where string // "panel <title> <refId>" or "variable <name>"
	Expr  string
}

// Load reads the dashboard at path.
func Load(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dashboard: %w", err)
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parse dashboard %s: %w", path, err)
	}
	return &d, nil
}

var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

// Queries returns every PromQL expression: the panels' targets and the
// query variables (label_values(expr, label) gives expr).
func (d *Dashboard) Queries() ([]Query, error) {
	var out []Query
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, Query{Where: fmt.Sprintf("panel %q %s", p.Title, t.RefID), Expr: t.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				return nil, fmt.Errorf("variable %s: query is neither a string nor an object with one: %s", v.Name, v.Query)
			}
			q = obj.Query
		}
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		out = append(out, Query{Where: "variable " + v.Name, Expr: q})
	}
	return out, nil
}

var (
	quoted   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	braces   = regexp.MustCompile(`\{[^{}]*\}`)
	brackets = regexp.MustCompile(`\[[^\[\]]*\]`)
	// grouping removes the label lists of aggregations and vector
	// matching: by (le), ignoring(level), group_left (x)...
	grouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	ident    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// keywords are PromQL words that are neither functions nor metrics.
	keywords = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
		"atan2": true, "start": true, "end": true,
	}
)

// MetricNames returns the metric names expr selects, sorted, each once.
// Strings, label matchers, range and subquery brackets and grouping label
// lists are removed first; an identifier followed by "(" is a function or
// an aggregation; a Grafana variable ($x, ${x}) and a number are no name.
func MetricNames(expr string) []string {
	s := quoted.ReplaceAllString(expr, `""`)
	for {
		t := braces.ReplaceAllString(s, "{}")
		if t == s {
			break
		}
		s = t
	}
	s = brackets.ReplaceAllString(s, "[]")
	for {
		t := grouping.ReplaceAllString(s, " ")
		if t == s {
			break
		}
		s = t
	}
	seen := map[string]bool{}
	for _, loc := range ident.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 {
			prev := s[loc[0]-1]
			if prev == '$' || prev == '.' || (prev >= '0' && prev <= '9') || prev == '{' {
				continue // a variable, or the exponent or tail of a number
			}
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") || keywords[strings.ToLower(name)] {
			continue
		}
		seen[name] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// HistogramSuffixes are the series suffixes of a histogram family: a name
// ending in one of them may name the series of a histogram (or, for _sum
// and _count, a summary) exported under the base name.
var HistogramSuffixes = []string{"_bucket", "_sum", "_count"}
