package invoice

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
)

func TestElasticsearchDocument(t *testing.T) {
	s, _ := paidInvoice(t)
	p := ElasticsearchProjection{}
	b, err := p.Render(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\n") {
		t.Error("document spans several lines")
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	mapping, err := p.Mapping(projections.IndexCapabilities{})
	if err != nil {
		t.Fatal(err)
	}
	var props map[string]any
	if err := json.Unmarshal(mapping, &props); err != nil {
		t.Fatal(err)
	}
	// Every field Render writes is mapped (the index is strict).
	for k := range doc {
		if _, ok := props[k]; !ok {
			t.Errorf("field %s is not in the mapping", k)
		}
	}
	lineProps := props["lines"].(map[string]any)["properties"].(map[string]any)
	for k := range doc["lines"].([]any)[0].(map[string]any) {
		if _, ok := lineProps[k]; !ok {
			t.Errorf("line field %s is not in the mapping", k)
		}
	}
	if doc["total"] != 1.255 || doc["total_minor"] != float64(1255) || doc["due_date"] != "2027-01-31" ||
		doc["version"] != float64(s.Version) || doc["voided_at"] != nil || doc[p.Live().Life] != p.Life(s) {
		t.Errorf("document %s", b)
	}
	if !strings.Contains(string(b), `"total":1.255,`) {
		t.Errorf("total not written as the exact decimal: %s", b)
	}
	withExtras, _ := p.Mapping(projections.IndexCapabilities{Modules: map[string]bool{"mapper-extras": true}})
	if !strings.Contains(string(withExtras), "scaled_float") {
		t.Errorf("mapping with mapper-extras: %s", withExtras)
	}
}

func TestRedisDocument(t *testing.T) {
	s, ev := paidInvoice(t)
	c := RedisCache{}
	d, err := c.CacheDoc(ev)
	if err != nil {
		t.Fatal(err)
	}
	if d.Delete || d.ID != s.ID || d.OrganizationID != s.OrganizationID || d.Version != s.Version ||
		d.Score != float64(s.CreatedAt.UnixMilli()) {
		t.Errorf("cache doc %+v", d)
	}
	if !strings.HasPrefix(string(d.JSON), `{"version":`) {
		t.Errorf("document does not start with the version: %s", d.JSON)
	}
	var doc RedisDocument
	if err := json.Unmarshal(d.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Total != "1.255" || doc.Lines[0].Amount != "1.250" || doc.DueDate != "2027-01-31" || doc.Status != "PAID" ||
		len(doc.PaymentIDs) != 2 || doc.PaidAt == nil || doc.VoidedAt != nil {
		t.Errorf("document %s", d.JSON)
	}
	l := c.CacheLayout()
	if l.Key != "invoice" || l.IDField != "invoiceId" || l.Recent == "recent" || l.CacheVersion == "cachever" {
		t.Errorf("layout %+v must not share Payment's names", l)
	}
	if _, err := c.CacheDoc(&records.Event{Type: schemas.TypeInvoiceIssued, EventID: "e"}); err == nil {
		t.Error("an event without state was rendered")
	}
}

// TestReadModelFold drives the read model's fold (Next, Contribution) over
// an invoice's life: it counts only while ISSUED, and an older version
// changes nothing.
func TestReadModelFold(t *testing.T) {
	var states []*records.Event
	s := run(t, create("EUR", due))
	for _, c := range []*schemas.CommandEnvelope{addLine("l1", 700), issue(), markPaid("p")} {
		d := Decide(s, c, t0, Limits{})
		s = d.State
		states = append(states, d.Event.Record())
	}
	var cur receivable
	had := false
	var open []int64
	for _, ev := range states {
		next, ok := nextReceivable(cur, had, sinks.Event{Key: ev.AggregateID, Envelope: ev})
		if !ok {
			t.Fatalf("event v%d ignored", ev.Version)
		}
		cur, had = next, true
		_, vals, counts := contribution(cur)
		if counts {
			open = append(open, vals[1])
		} else {
			open = append(open, -1)
		}
	}
	if len(open) != 3 || open[0] != -1 || open[1] != 700 || open[2] != -1 {
		t.Errorf("open total after each event %v, want [-1 700 -1] (-1: not counted)", open)
	}
	if _, ok := nextReceivable(cur, true, sinks.Event{Key: "inv-1", Envelope: states[1]}); ok {
		t.Error("an older version moved the read model")
	}
}

func TestReadModelChecks(t *testing.T) {
	_, ev := paidInvoice(t)
	rm := ReadModel()
	if why := rm.Check(sinks.Event{Key: ev.AggregateID, Envelope: ev}); why != "" {
		t.Errorf("read model refuses a valid event: %s", why)
	}
	noState := *ev
	noState.State = nil
	if why := rm.Check(sinks.Event{Key: ev.AggregateID, Envelope: &noState}); why == "" {
		t.Error("read model accepts an event without state")
	}
	if why := rm.Check(sinks.Event{Key: "other", Envelope: ev}); why == "" {
		t.Error("read model accepts an event under another key")
	}
	if comp, ms := rm.Migrations(); comp == "" || len(ms) == 0 {
		t.Errorf("migrations %q %d", comp, len(ms))
	}
}
