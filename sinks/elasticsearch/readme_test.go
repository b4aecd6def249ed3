package elasticsearch

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/readmetest"
	"github.com/prism-cqrs/prism/topology"
)

// TestREADMEElasticsearchFormat holds the README's "Elasticsearch" section
// to the code: the mapping table lists exactly the mapped fields, the
// example document decodes into Document with no unknown field and has
// every field, and the mapping records the owning namespace in _meta.
func TestREADMEElasticsearchFormat(t *testing.T) {
	sec := readmetest.Section(t, "### Elasticsearch (alias")
	body, err := indexBody(Config{Names: topology.NewNames("readme").Aggregate("payments"), Shards: 1, GCDeletes: time.Hour}, false)
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

	example := readmetest.JSONExample(t, sec)
	var doc Document
	readmetest.DecodeStrict(t, example, &doc)
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
