package payment

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/readmetest"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
)

// TestREADMEElasticsearchFormat holds the README's "Elasticsearch" section
// to the code: the mapping table lists exactly the mapped fields, the
// example document decodes into ElasticsearchDocument with no unknown
// field and has every field, and the section states what the sink adds
// (strict mapping, _meta.namespace, _version = offset + 1; the sink's own
// test checks it adds them).
func TestREADMEElasticsearchFormat(t *testing.T) {
	sec := readmetest.Section(t, "### Elasticsearch (alias")
	props, err := ElasticsearchProjection{}.Mapping(projections.IndexCapabilities{})
	if err != nil {
		t.Fatal(err)
	}
	var properties map[string]map[string]any
	if err := json.Unmarshal(props, &properties); err != nil {
		t.Fatal(err)
	}
	mapped := slices.Sorted(maps.Keys(properties))

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
	var doc ElasticsearchDocument
	readmetest.DecodeStrict(t, example, &doc)
	var keys map[string]any
	if err := json.Unmarshal([]byte(example), &keys); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, mapped) {
		t.Errorf("README example has fields %v, mapping has %v", got, mapped)
	}
	if _, err := time.Parse(ElasticsearchDateFormat, doc.CreatedAt); err != nil {
		t.Errorf("README example created_at %q is not in the written format %s", doc.CreatedAt, ElasticsearchDateFormat)
	}
	if !strings.Contains(sec, "`dynamic: strict`") || !strings.Contains(sec, "`_meta.namespace`") || !strings.Contains(sec, "offset + 1") {
		t.Errorf("README Elasticsearch section no longer states strict mapping, _meta.namespace and _version = offset + 1")
	}
}

// TestElasticsearchAmountType: amount is a scaled_float (scaling factor
// 1000) only when every node has mapper-extras, a double otherwise.
func TestElasticsearchAmountType(t *testing.T) {
	for _, c := range []struct {
		caps projections.IndexCapabilities
		want string
	}{
		{projections.IndexCapabilities{}, `{"type":"double"}`},
		{projections.IndexCapabilities{Modules: map[string]bool{"x-pack-core": true}}, `{"type":"double"}`},
		{projections.IndexCapabilities{Modules: map[string]bool{"mapper-extras": true}}, `{"scaling_factor":1000,"type":"scaled_float"}`},
	} {
		props, err := ElasticsearchProjection{}.Mapping(c.caps)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(props, &m); err != nil {
			t.Fatal(err)
		}
		if string(m["amount"]) != c.want {
			t.Errorf("modules %v: amount %s, want %s", c.caps.Modules, m["amount"], c.want)
		}
	}
}

func TestElasticsearchRender(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600))
	p := &schemas.Payment{ID: "a", OrganizationID: "o", UserID: "u", AmountMinor: 1005, Currency: "KWD", Description: "d",
		Status: schemas.StatusPending, CreatedAt: created, UpdatedAt: created.Add(time.Second), Version: 2}
	proj := ElasticsearchProjection{}
	b, err := proj.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"a","organization_id":"o","user_id":"u","amount_minor":1005,"amount":1.005,"currency":"KWD","description":"d",` +
		`"status":"PENDING","created_at":"2026-01-02T02:04:05.678Z","updated_at":"2026-01-02T02:04:06.678Z","version":2}`
	if string(b) != want {
		t.Errorf("document\n%s\nwant\n%s", b, want)
	}
	live := proj.Live()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	if string(fields[live.Version]) != "2" || string(fields[live.Life]) != `"`+proj.Life(p)+`"` {
		t.Errorf("live fields %+v: document holds %s and %s, Life says %q", live, fields[live.Version], fields[live.Life], proj.Life(p))
	}

	bad := *p
	bad.ID, bad.OrganizationID, bad.Currency = "", "", "XXX"
	_, err = proj.Render(&bad)
	for _, want := range []string{"payment id", "organization id", "amount"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Render of a state without id, organization and currency: %v, want it to name %s", err, want)
		}
	}
	if _, err := proj.Render(schemas.Payment{}); err == nil {
		t.Error("Render of a non-pointer state succeeded")
	}
}
