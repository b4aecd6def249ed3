package elasticsearch

import (
	"encoding/json"
	"fmt"
)

// AmountScalingFactor is the scaling factor of the scaled_float amount
// field: 1000, so currencies with three minor digits (BHD, JOD, KWD, OMR,
// TND) are stored exactly.
const AmountScalingFactor = 1000

// indexBody returns the settings and explicit mapping of a new index.
// Unknown fields are refused (dynamic: strict). scaledFloat selects the
// type of amount: scaled_float when the mapper-extras module is installed,
// double otherwise (amount_minor, a long, stays exact either way).
func indexBody(cfg Config, scaledFloat bool) ([]byte, error) {
	amount := map[string]any{"type": "double"}
	if scaledFloat {
		amount = map[string]any{"type": "scaled_float", "scaling_factor": AmountScalingFactor}
	}
	keyword := map[string]any{"type": "keyword"}
	date := map[string]any{"type": "date", "format": "strict_date_optional_time||epoch_millis"}
	body := map[string]any{
		"settings": map[string]any{
			"number_of_shards":   cfg.Shards,
			"number_of_replicas": cfg.Replicas,
			"index.gc_deletes":   fmt.Sprintf("%ds", int64(cfg.GCDeletes.Seconds())),
		},
		"mappings": map[string]any{
			// The owning namespace: Setup refuses an index recorded for
			// another one (two namespaces mapping to one index).
			"_meta":   map[string]any{"namespace": cfg.Names.Namespace},
			"dynamic": "strict",
			"properties": map[string]any{
				"id":              keyword,
				"organization_id": keyword,
				"user_id":         keyword,
				"amount_minor":    map[string]any{"type": "long"},
				"amount":          amount,
				"currency":        keyword,
				"description": map[string]any{
					"type":     "text",
					"analyzer": "standard",
					"fields": map[string]any{
						"keyword": map[string]any{"type": "keyword", "ignore_above": 256},
					},
				},
				"status":     keyword,
				"created_at": date,
				"updated_at": date,
				"version":    map[string]any{"type": "long"},
			},
		},
	}
	return json.Marshal(body)
}
