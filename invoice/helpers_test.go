package invoice

import (
	"encoding/json"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
)

func ptr[T any](v T) *T { return &v }

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// equalJSON compares two invoices field by field, the dedup memory
// included (json:"-" on the type).
func equalJSON(a, b any) bool {
	type withMemory struct {
		I *schemas.Invoice
		R []schemas.RecentCommand
	}
	wrap := func(v any) any {
		if inv, ok := v.(*schemas.Invoice); ok && inv != nil {
			return withMemory{inv, inv.RecentCommands}
		}
		return v
	}
	return toJSON(wrap(a)) == toJSON(wrap(b))
}

var (
	t0  = time.Date(2026, 12, 3, 21, 0, 0, 0, time.UTC)
	due = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
)
