package elasticsearch

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/topology"
)

// TestIndexBodyAddsStrictAndOwner: whatever the projection maps, the index
// refuses unknown fields and records its namespace; the settings come from
// Config.
func TestIndexBodyAddsStrictAndOwner(t *testing.T) {
	cfg := Config{Names: topology.NewNames("own").Aggregate("things"), Shards: 3, Replicas: 1, GCDeletes: 2 * time.Hour}
	body, err := indexBody(cfg, json.RawMessage(`{"name":{"type":"keyword"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Settings map[string]any `json:"settings"`
		Mappings struct {
			Meta       map[string]string          `json:"_meta"`
			Dynamic    string                     `json:"dynamic"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatal(err)
	}
	m := idx.Mappings
	if m.Dynamic != "strict" || m.Meta["namespace"] != "own" || string(m.Properties["name"]) != `{"type":"keyword"}` || len(m.Properties) != 1 {
		t.Errorf("mappings %+v: want strict, _meta.namespace own, the projection's properties", m)
	}
	if idx.Settings["number_of_shards"] != 3.0 || idx.Settings["number_of_replicas"] != 1.0 || idx.Settings["index.gc_deletes"] != "7200s" {
		t.Errorf("settings %v", idx.Settings)
	}
	if _, err := indexBody(cfg, json.RawMessage(`{"name":`)); err == nil {
		t.Error("invalid properties accepted")
	}
}
