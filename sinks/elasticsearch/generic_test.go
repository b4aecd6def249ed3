package elasticsearch_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/topology"
)

// widget is the state of a test-only aggregate that is not a payment: the
// sink must index it with nothing but its projection.
type widget struct {
	Name  string
	Count int64
	Born  time.Time // one per life: the projection's life field
	Rev   int64     // the aggregate version
	Extra string    // rendered only when set: a field the mapping lacks
}

// widgetDocument is widget's projections.Document.
type widgetDocument struct{}

func (widgetDocument) Mapping(caps projections.IndexCapabilities) (json.RawMessage, error) {
	return json.RawMessage(`{"name":{"type":"keyword"},"count":{"type":"long"},"born":{"type":"date"},"rev":{"type":"long"}}`), nil
}

func (widgetDocument) Render(state any) ([]byte, error) {
	w := state.(*widget)
	if w.Name == "" {
		return nil, errors.New("widget has no name")
	}
	doc := map[string]any{"name": w.Name, "count": w.Count, "born": w.Born.UTC().Format(time.RFC3339Nano), "rev": w.Rev}
	if w.Extra != "" {
		doc["extra"] = w.Extra
	}
	return json.Marshal(doc)
}

func (widgetDocument) Check(*records.Event) string { return "" }

func (widgetDocument) Live() projections.LiveFields {
	return projections.LiveFields{Version: "rev", Life: "born"}
}

func (widgetDocument) Life(state any) string {
	return state.(*widget).Born.UTC().Format(time.RFC3339Nano)
}

// widgetEvent is an event of widget id at offset off: version v with
// state w, or a removal (w nil).
func widgetEvent(off int64, id string, v int64, w *widget) sinks.Event {
	env := &records.Event{EventID: fmt.Sprintf("%s-%d", id, off), Type: "WidgetChanged", AggregateID: id, Version: v}
	if w != nil {
		env.State = w
	} else {
		env.Type = "WidgetScrapped"
	}
	return sinks.Event{Offset: off, Key: id, Envelope: env}
}

// TestNonPaymentDocument runs the sink on an aggregate of its own (a
// widget: its own plural, mapping and fields, version in "rev", life in
// "born") against the real Elasticsearch: its index and alias are named
// after it with its mapping made strict and owned; its documents are
// indexed with _version = offset + 1; a replay rewrites nothing; an older
// version at a new offset is ignored; a removal deletes and an older event
// replayed then does not resurrect; a new life is written; a document the
// projection refuses or the mapping lacks is rejected with its reason.
func TestNonPaymentDocument(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	names := topology.NewNames(testkit.Namespace(t)).Aggregate("widgets")
	es := newESServer(t, names)
	tg, err := essink.NewTarget(essink.DefaultConfig(es.url, names), widgetDocument{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	index, alias := names.Namespace+"-widgets-v1", names.Namespace+"-widgets"
	if tg.Index() != index || tg.Alias() != alias {
		t.Fatalf("index %s alias %s, want %s and %s", tg.Index(), tg.Alias(), index, alias)
	}
	var mapping map[string]struct {
		Aliases  map[string]any `json:"aliases"`
		Mappings struct {
			Dynamic    string            `json:"dynamic"`
			Meta       map[string]string `json:"_meta"`
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if st, err := es.call(ctx, http.MethodGet, "/"+alias, nil, &mapping); err != nil || st != http.StatusOK {
		t.Fatalf("GET %s: %d %v", alias, st, err)
	}
	m := mapping[index].Mappings
	types := map[string]string{}
	for f, p := range m.Properties {
		types[f] = p.Type
	}
	if _, ok := mapping[index].Aliases[alias]; !ok || len(mapping) != 1 || m.Dynamic != "strict" || m.Meta["namespace"] != names.Namespace ||
		fmt.Sprint(types) != "map[born:date count:long name:keyword rev:long]" {
		t.Fatalf("alias %s reads %v: mappings %+v; want only %s, the widget's fields, strict, owned by %s", alias, mapping, m, index, names.Namespace)
	}

	write := func(evs ...sinks.Event) []sinks.Rejected {
		t.Helper()
		rej, err := tg.Write(ctx, names.EventsTopic(), evs)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		return rej
	}
	type source struct {
		Name  string `json:"name"`
		Count int64  `json:"count"`
		Rev   int64  `json:"rev"`
	}
	check := func(step, id string, want *source, wantVersion int64) *esHit {
		t.Helper()
		h := es.get(t, ctx, index, id)
		if want == nil {
			if h != nil {
				t.Fatalf("%s: %s holds %s, want no document", step, id, h.Source)
			}
			return nil
		}
		var got source
		if h != nil {
			if err := json.Unmarshal(h.Source, &got); err != nil {
				t.Fatal(err)
			}
		}
		if h == nil || got != *want || h.Version != wantVersion {
			t.Fatalf("%s: %s = %+v, want %+v at _version %d", step, id, h, *want, wantVersion)
		}
		return h
	}

	born := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	batch := []sinks.Event{
		widgetEvent(0, "w1", 1, &widget{Name: "gear", Count: 1, Born: born, Rev: 1}),
		widgetEvent(1, "w2", 1, &widget{Name: "cog", Count: 5, Born: born, Rev: 1}),
		widgetEvent(2, "w1", 2, &widget{Name: "gear", Count: 2, Born: born, Rev: 2}),
	}
	if rej := write(batch...); len(rej) != 0 {
		t.Fatalf("rejected %+v", rej)
	}
	w1 := check("indexed", "w1", &source{"gear", 2, 2}, 3)
	check("indexed", "w2", &source{"cog", 5, 1}, 2)
	if hits, err := es.search(ctx, alias); err != nil || len(hits) != 2 {
		t.Fatalf("through the alias: %v, %v; want w1 and w2", hits, err)
	}

	write(batch...)
	if h := check("after a replay", "w1", &source{"gear", 2, 2}, 3); h.SeqNo != w1.SeqNo {
		t.Fatalf("a replay rewrote w1: _seq_no %d -> %d", w1.SeqNo, h.SeqNo)
	}

	write(widgetEvent(10, "w1", 1, &widget{Name: "gear", Count: 1, Born: born, Rev: 1}))
	if h := check("after a stale version at a new offset", "w1", &source{"gear", 2, 2}, 3); h.SeqNo != w1.SeqNo {
		t.Fatalf("a stale version rewrote w1: _seq_no %d -> %d", w1.SeqNo, h.SeqNo)
	}

	write(widgetEvent(11, "w2", 2, nil), sinks.Event{Offset: 12, Key: "w2"})
	check("after the removal and its tombstone", "w2", nil, 0)
	write(batch[1])
	check("after an older event replayed", "w2", nil, 0)
	write(widgetEvent(13, "w2", 1, &widget{Name: "cog", Count: 9, Born: born.Add(time.Hour), Rev: 1}))
	check("a new life", "w2", &source{"cog", 9, 1}, 14)

	rej := write(
		widgetEvent(14, "w3", 1, &widget{Count: 1, Born: born, Rev: 1}),
		widgetEvent(15, "w4", 1, &widget{Name: "odd", Born: born, Rev: 1, Extra: "x"}),
		widgetEvent(16, "w5", 1, &widget{Name: "ok", Born: born, Rev: 1}),
	)
	reasons := map[int64]string{}
	for _, r := range rej {
		reasons[r.Event.Offset] = r.Reason
	}
	if len(rej) != 2 || !strings.Contains(reasons[14], "widget has no name") || !strings.Contains(reasons[15], "strict_dynamic_mapping_exception") {
		t.Fatalf("rejected %v, want offset 14 (the projection's error) and 15 (a field the strict mapping lacks)", reasons)
	}
	check("the valid document of the batch", "w5", &source{"ok", 0, 1}, 17)
}
