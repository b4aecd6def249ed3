package elasticsearch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// store is one namespace of the real Elasticsearch holding Payment's index
// (payment.ElasticsearchProjection), for the shared suite.
type store struct {
	es    *esServer
	names topology.Names
}

func newStore(t *testing.T) *store {
	names := topology.NewNames(testkit.Namespace(t)).Aggregate("payments")
	return &store{es: newESServer(t, names), names: names}
}

func (s *store) NewTarget(context.Context) (sinks.Target, error) {
	return essink.NewTarget(essink.DefaultConfig(s.es.url, s.names), payment.ElasticsearchProjection{})
}

// Payments refreshes and reads every document through the alias, checking
// what the suite's Payment cannot show: _id = id, the exact decimal amount,
// and _version (offset + 1 of the last event applied) never below the
// aggregate version.
func (s *store) Payments(ctx context.Context) (map[string]schemas.Payment, error) {
	hits, err := s.es.search(ctx, s.names.ElasticsearchAlias())
	if err != nil {
		return nil, err
	}
	out := make(map[string]schemas.Payment, len(hits))
	for id, h := range hits {
		var d struct {
			ID             string      `json:"id"`
			OrganizationID string      `json:"organization_id"`
			UserID         string      `json:"user_id"`
			AmountMinor    int64       `json:"amount_minor"`
			Amount         json.Number `json:"amount"`
			Currency       string      `json:"currency"`
			Description    string      `json:"description"`
			Status         string      `json:"status"`
			CreatedAt      time.Time   `json:"created_at"`
			UpdatedAt      time.Time   `json:"updated_at"`
			Version        int64       `json:"version"`
		}
		if err := json.Unmarshal(h.Source, &d); err != nil {
			return nil, fmt.Errorf("document %s: %w", id, err)
		}
		if d.ID != id {
			return nil, fmt.Errorf("document _id %s holds id %s", id, d.ID)
		}
		if minor, err := money.Parse(string(d.Amount), d.Currency); err != nil || minor != d.AmountMinor {
			return nil, fmt.Errorf("document %s: amount %s %s is not amount_minor %d (%v)", id, d.Amount, d.Currency, d.AmountMinor, err)
		}
		if h.Version < d.Version {
			return nil, fmt.Errorf("document %s: _version %d below the version field %d (want offset + 1)", id, h.Version, d.Version)
		}
		out[id] = schemas.Payment{ID: d.ID, OrganizationID: d.OrganizationID, UserID: d.UserID, AmountMinor: d.AmountMinor,
			Currency: d.Currency, Description: d.Description, Status: schemas.PaymentStatus(d.Status),
			CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Version: d.Version}
	}
	return out, nil
}

// TestConformance holds the Elasticsearch sink to the shared suite, as
// sinks/postgres does: setup twice, replay, overlap, restart, stale
// versions at new offsets, a full replay from offset 0.
func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store { return newStore(t) })
}
