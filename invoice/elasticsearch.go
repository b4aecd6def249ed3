package invoice

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
)

// esDateFormat is how the Elasticsearch document writes times: UTC,
// millisecond precision (the resolution of an Elasticsearch date).
const esDateFormat = "2006-01-02T15:04:05.000Z"

// ElasticsearchDocument is the indexed form of an invoice in the
// `<ns>-invoices` index. Total is the exact decimal rendering of
// TotalMinor in the currency's digits, written as a JSON number;
// TotalMinor stays the exact value for sums. Lines are a nested field.
type ElasticsearchDocument struct {
	ID             string              `json:"id"`
	OrganizationID string              `json:"organization_id"`
	UserID         string              `json:"user_id"`
	Currency       string              `json:"currency"`
	DueDate        string              `json:"due_date"` // yyyy-MM-dd
	Status         string              `json:"status"`
	LineCount      int                 `json:"line_count"`
	TotalMinor     int64               `json:"total_minor"`
	Total          json.Number         `json:"total"`
	Lines          []ElasticsearchLine `json:"lines"`
	PaymentIDs     []string            `json:"payment_ids"`
	VoidReason     string              `json:"void_reason"`
	CreatedAt      string              `json:"created_at"`
	UpdatedAt      string              `json:"updated_at"`
	IssuedAt       *string             `json:"issued_at"`
	PaidAt         *string             `json:"paid_at"`
	VoidedAt       *string             `json:"voided_at"`
	Version        int64               `json:"version"`
}

// ElasticsearchLine is one element of the nested lines field.
type ElasticsearchLine struct {
	LineID      string      `json:"line_id"`
	Description string      `json:"description"`
	AmountMinor int64       `json:"amount_minor"`
	Amount      json.Number `json:"amount"`
}

// NewElasticsearchDocument renders s; it fails for a currency money does
// not know (the rules never accept one).
func NewElasticsearchDocument(s *schemas.Invoice) (ElasticsearchDocument, error) {
	total, err := money.Format(s.TotalMinor, s.Currency)
	if err != nil {
		return ElasticsearchDocument{}, fmt.Errorf("invoice %s: total: %w", s.ID, err)
	}
	doc := ElasticsearchDocument{
		ID: s.ID, OrganizationID: s.OrganizationID, UserID: s.UserID, Currency: s.Currency,
		DueDate: s.DueDate.UTC().Format(time.DateOnly), Status: string(s.Status), LineCount: len(s.Lines),
		TotalMinor: s.TotalMinor, Total: json.Number(total),
		Lines: make([]ElasticsearchLine, len(s.Lines)), PaymentIDs: s.PaymentIDs, VoidReason: s.VoidReason,
		CreatedAt: esDate(s.CreatedAt), UpdatedAt: esDate(s.UpdatedAt),
		IssuedAt: esDatePtr(s.IssuedAt), PaidAt: esDatePtr(s.PaidAt), VoidedAt: esDatePtr(s.VoidedAt),
		Version: s.Version,
	}
	if doc.PaymentIDs == nil {
		doc.PaymentIDs = []string{}
	}
	for i, l := range s.Lines {
		amount, err := money.Format(l.AmountMinor, s.Currency)
		if err != nil {
			return ElasticsearchDocument{}, fmt.Errorf("invoice %s: line %s: %w", s.ID, l.LineID, err)
		}
		doc.Lines[i] = ElasticsearchLine{LineID: l.LineID, Description: l.Description, AmountMinor: l.AmountMinor, Amount: json.Number(amount)}
	}
	return doc, nil
}

func esDate(t time.Time) string { return t.UTC().Format(esDateFormat) }

func esDatePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := esDate(*t)
	return &s
}

// ElasticsearchProjection is the invoice's projections.Document: the
// mapping of the `<ns>-invoices-v<N>` index and its documents
// (ElasticsearchDocument). An invoice's life is its created_at.
type ElasticsearchProjection struct{}

var _ projections.Document = ElasticsearchProjection{}

// ScalingFactor of the amount fields when they are scaled_float: 1000,
// exact for currencies with three minor digits.
const ScalingFactor = 1000

// Mapping returns the invoice fields: total and the lines' amount are
// scaled_float when every node has mapper-extras, double otherwise; the
// _minor fields (long) stay exact either way.
func (ElasticsearchProjection) Mapping(caps projections.IndexCapabilities) (json.RawMessage, error) {
	amount := map[string]any{"type": "double"}
	if caps.Has("mapper-extras") {
		amount = map[string]any{"type": "scaled_float", "scaling_factor": ScalingFactor}
	}
	keyword := map[string]any{"type": "keyword"}
	long := map[string]any{"type": "long"}
	date := map[string]any{"type": "date", "format": "strict_date_optional_time||epoch_millis"}
	text := map[string]any{
		"type": "text", "analyzer": "standard",
		"fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": 256}},
	}
	return json.Marshal(map[string]any{
		"id":              keyword,
		"organization_id": keyword,
		"user_id":         keyword,
		"currency":        keyword,
		"due_date":        map[string]any{"type": "date", "format": "strict_date"},
		"status":          keyword,
		"line_count":      map[string]any{"type": "integer"},
		"total_minor":     long,
		"total":           amount,
		"lines": map[string]any{"type": "nested", "properties": map[string]any{
			"line_id":      keyword,
			"description":  text,
			"amount_minor": long,
			"amount":       amount,
		}},
		"payment_ids": keyword,
		"void_reason": text,
		"created_at":  date,
		"updated_at":  date,
		"issued_at":   date,
		"paid_at":     date,
		"voided_at":   date,
		"version":     long,
	})
}

// Check refuses an event of a type Invoice does not know, one without an
// invoice state (invoices are never removed: only a tombstone deletes a
// document) and one carrying another invoice's state.
func (ElasticsearchProjection) Check(ev *records.Event) string {
	return checkInvoiceEvent(ev, false)
}

// Render returns the ElasticsearchDocument of state, a *schemas.Invoice.
func (ElasticsearchProjection) Render(state any) ([]byte, error) {
	s, ok := state.(*schemas.Invoice)
	if !ok || s == nil {
		return nil, fmt.Errorf("state is a %T, not an invoice", state)
	}
	doc, err := NewElasticsearchDocument(s)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode document of invoice %s: %w", s.ID, err)
	}
	return b, nil
}

// Live names version and created_at.
func (ElasticsearchProjection) Live() projections.LiveFields {
	return projections.LiveFields{Version: "version", Life: "created_at"}
}

// Life returns the created_at Render writes for state.
func (ElasticsearchProjection) Life(state any) string {
	if s, ok := state.(*schemas.Invoice); ok && s != nil {
		return esDate(s.CreatedAt)
	}
	return ""
}
