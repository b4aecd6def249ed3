package payment

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
)

// ElasticsearchDateFormat is how the Elasticsearch document writes dates:
// UTC, millisecond precision (the resolution of an Elasticsearch date).
const ElasticsearchDateFormat = "2006-01-02T15:04:05.000Z"

// AmountScalingFactor is the scaling factor of the amount field when it is
// a scaled_float: 1000, so currencies with three minor digits (BHD, JOD,
// KWD, OMR, TND) are stored exactly.
const AmountScalingFactor = 1000

// ElasticsearchDocument is the indexed form of a payment (README,
// "Elasticsearch"). Amount is the exact decimal rendering of AmountMinor in
// the currency's digits, written as a JSON number; AmountMinor stays the
// exact value for sums.
type ElasticsearchDocument struct {
	ID             string      `json:"id"`
	OrganizationID string      `json:"organization_id"`
	UserID         string      `json:"user_id"`
	AmountMinor    int64       `json:"amount_minor"`
	Amount         json.Number `json:"amount"`
	Currency       string      `json:"currency"`
	Description    string      `json:"description"`
	Status         string      `json:"status"`
	CreatedAt      string      `json:"created_at"`
	UpdatedAt      string      `json:"updated_at"`
	Version        int64       `json:"version"`
}

// NewElasticsearchDocument renders p; it fails for a state no reader could
// use (DocumentAmount).
func NewElasticsearchDocument(p *schemas.Payment) (ElasticsearchDocument, error) {
	amount, err := DocumentAmount(p)
	if err != nil {
		return ElasticsearchDocument{}, err
	}
	return ElasticsearchDocument{
		ID:             p.ID,
		OrganizationID: p.OrganizationID,
		UserID:         p.UserID,
		AmountMinor:    p.AmountMinor,
		Amount:         json.Number(amount),
		Currency:       p.Currency,
		Description:    p.Description,
		Status:         string(p.Status),
		CreatedAt:      formatESDate(p.CreatedAt),
		UpdatedAt:      formatESDate(p.UpdatedAt),
		Version:        p.Version,
	}, nil
}

func formatESDate(t time.Time) string { return t.UTC().Format(ElasticsearchDateFormat) }

// ElasticsearchProjection is the payment's projections.Document: the
// mapping of the `<ns>-payments-v<N>` index and its documents
// (ElasticsearchDocument). A payment's life is its created_at.
type ElasticsearchProjection struct{}

var _ projections.Document = ElasticsearchProjection{}

// Mapping returns the payment fields: amount is a scaled_float
// (AmountScalingFactor) when every node has the mapper-extras module, a
// double otherwise (the integration-test distribution); amount_minor, a
// long, stays exact either way.
func (ElasticsearchProjection) Mapping(caps projections.IndexCapabilities) (json.RawMessage, error) {
	amount := map[string]any{"type": "double"}
	if caps.Has("mapper-extras") {
		amount = map[string]any{"type": "scaled_float", "scaling_factor": AmountScalingFactor}
	}
	keyword := map[string]any{"type": "keyword"}
	date := map[string]any{"type": "date", "format": "strict_date_optional_time||epoch_millis"}
	return json.Marshal(map[string]any{
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
	})
}

// Check accepts every event: any payment event without a state removes the
// document (PaymentDeleted), and Render refuses a state that is not a
// payment.
func (ElasticsearchProjection) Check(*records.Event) string { return "" }

// Render returns the ElasticsearchDocument of state, a *schemas.Payment.
func (ElasticsearchProjection) Render(state any) ([]byte, error) {
	p, ok := state.(*schemas.Payment)
	if !ok {
		return nil, fmt.Errorf("state is a %T, not a payment", state)
	}
	doc, err := NewElasticsearchDocument(p)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return b, nil
}

// Live names version (the aggregate version) and created_at (a payment id
// created again after a delete gets a new created_at).
func (ElasticsearchProjection) Live() projections.LiveFields {
	return projections.LiveFields{Version: "version", Life: "created_at"}
}

// Life returns the created_at Render writes for state.
func (ElasticsearchProjection) Life(state any) string {
	if p, ok := state.(*schemas.Payment); ok {
		return formatESDate(p.CreatedAt)
	}
	return ""
}
