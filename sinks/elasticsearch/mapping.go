package elasticsearch

import (
	"encoding/json"
	"fmt"
)

// indexBody returns the settings and mapping of a new index: the
// aggregate's properties (projections.Document.Mapping), unknown fields
// refused (dynamic: strict) and the owning namespace in _meta.
func indexBody(cfg Config, properties json.RawMessage) ([]byte, error) {
	if !json.Valid(properties) {
		return nil, fmt.Errorf("the mapping properties are not valid JSON: %.100q", properties)
	}
	body := map[string]any{
		"settings": map[string]any{
			"number_of_shards":   cfg.Shards,
			"number_of_replicas": cfg.Replicas,
			"index.gc_deletes":   fmt.Sprintf("%ds", int64(cfg.GCDeletes.Seconds())),
		},
		"mappings": map[string]any{
			// The owning namespace: Setup refuses an index recorded for
			// another one (two namespaces mapping to one index).
			"_meta":      map[string]any{"namespace": cfg.Names.Namespace},
			"dynamic":    "strict",
			"properties": properties,
		},
	}
	return json.Marshal(body)
}
