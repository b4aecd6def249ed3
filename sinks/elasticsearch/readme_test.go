package elasticsearch

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/topology"
)

// readmeSection returns the README's section that starts with the line
// prefix heading, up to the next heading of any level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n"+heading)
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	s = s[i+1:]
	if j := regexp.MustCompile(`\n#{2,3} `).FindStringIndex(s[len(heading):]); j != nil {
		s = s[:len(heading)+j[0]]
	}
	return s
}

// TestREADMEElasticsearchFormat holds the README's "Elasticsearch" section
// to the code: the mapping table lists exactly the mapped fields, the
// example document decodes into Document with no unknown field and has
// every field, and the mapping records the owning namespace in _meta.
func TestREADMEElasticsearchFormat(t *testing.T) {
	sec := readmeSection(t, "### Elasticsearch (alias")
	body, err := indexBody(Config{Names: topology.NewNames("readme"), Shards: 1, GCDeletes: time.Hour}, false)
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Mappings struct {
			Meta       map[string]string         `json:"_meta"`
			Dynamic    string                    `json:"dynamic"`
			Properties map[string]map[string]any `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatal(err)
	}
	mapped := slices.Sorted(maps.Keys(idx.Mappings.Properties))

	var documented []string
	cell := regexp.MustCompile("`([a-z_]+)`")
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			documented = append(documented, m[1])
		}
	}
	slices.Sort(documented)
	if !slices.Equal(documented, mapped) {
		t.Errorf("README mapping table fields %v, mapping has %v", documented, mapped)
	}

	start := strings.Index(sec, "```json\n")
	end := strings.Index(sec[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no JSON example in the README's Elasticsearch section")
	}
	example := sec[start+8 : start+8+end]
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("README example document: %v", err)
	}
	var keys map[string]any
	if err := json.Unmarshal([]byte(example), &keys); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, mapped) {
		t.Errorf("README example has fields %v, mapping has %v", got, mapped)
	}
	if _, err := time.Parse(DateFormat, doc.CreatedAt); err != nil {
		t.Errorf("README example created_at %q is not in the written format %s", doc.CreatedAt, DateFormat)
	}
	if idx.Mappings.Dynamic != "strict" || idx.Mappings.Meta["namespace"] != "readme" {
		t.Errorf("mapping dynamic=%q _meta=%v, README says strict and _meta.namespace", idx.Mappings.Dynamic, idx.Mappings.Meta)
	}
	if !strings.Contains(sec, "`dynamic: strict`") || !strings.Contains(sec, "`_meta.namespace`") || !bytes.Contains([]byte(sec), []byte("offset + 1")) {
		t.Errorf("README Elasticsearch section no longer states strict mapping, _meta.namespace and _version = offset + 1")
	}
}
