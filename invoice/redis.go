package invoice

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
)

// RedisCache is the invoice's Redis projection (projections.Cache): the
// document <ns>:invoice:<id> (RedisDocument), the organization's index
// <ns>:org:<org>:recent:invoices scored by createdAt in Unix ms, the
// counter <ns>:org:<org>:cachever:invoices, and invalidation messages on
// <ns>:invalidate naming "invoiceId" (RedisInvalidation).
type RedisCache struct{}

var _ projections.Cache = RedisCache{}

// CacheLayout returns the invoice's key and field names.
func (RedisCache) CacheLayout() projections.CacheLayout {
	return projections.CacheLayout{
		Key:               "invoice",
		Recent:            "recent:invoices",
		CacheVersion:      "cachever:invoices",
		OrganizationField: "organizationId",
		IDField:           "invoiceId",
	}
}

// RedisDocument is the JSON stored at <ns>:invoice:<id>: the invoice after
// its last applied event. Total and each line's amount are decimal strings
// in the currency's digits ("100.00"), never floats, next to the exact
// minor units. Version comes first, as projections.CacheDoc requires.
type RedisDocument struct {
	Version        int64       `json:"version"`
	ID             string      `json:"id"`
	OrganizationID string      `json:"organizationId"`
	UserID         string      `json:"userId"`
	Currency       string      `json:"currency"`
	DueDate        string      `json:"dueDate"` // YYYY-MM-DD
	Status         string      `json:"status"`
	Lines          []RedisLine `json:"lines"`
	TotalMinor     int64       `json:"totalMinor"`
	Total          string      `json:"total"`
	PaymentIDs     []string    `json:"paymentIds"`
	VoidReason     string      `json:"voidReason,omitempty"`
	CreatedAt      time.Time   `json:"createdAt"`
	UpdatedAt      time.Time   `json:"updatedAt"`
	IssuedAt       *time.Time  `json:"issuedAt,omitempty"`
	PaidAt         *time.Time  `json:"paidAt,omitempty"`
	VoidedAt       *time.Time  `json:"voidedAt,omitempty"`
}

// RedisLine is one line of a RedisDocument.
type RedisLine struct {
	LineID      string `json:"lineId"`
	Description string `json:"description"`
	AmountMinor int64  `json:"amountMinor"`
	Amount      string `json:"amount"`
}

// RedisInvalidation is one applied change of an invoice in a message on
// <ns>:invalidate (a JSON array of changes).
type RedisInvalidation struct {
	OrganizationID string `json:"organizationId"`
	InvoiceID      string `json:"invoiceId"`
	Version        int64  `json:"version"`
}

// Check refuses an event of a type Invoice does not know, one without an
// invoice state (invoices are never removed) and one carrying another
// invoice's state.
func (RedisCache) Check(ev *records.Event) string {
	return checkInvoiceEvent(ev, false)
}

// CacheDoc renders ev's invoice. Invoices are never deleted: an event
// without an invoice state cannot be represented.
func (RedisCache) CacheDoc(ev *records.Event) (projections.CacheDoc, error) {
	s, ok := ev.State.(*schemas.Invoice)
	if !ok || s == nil {
		return projections.CacheDoc{}, fmt.Errorf("%s event %s carries %T, not an invoice", ev.Type, ev.EventID, ev.State)
	}
	doc, err := NewRedisDocument(s)
	if err != nil {
		return projections.CacheDoc{}, fmt.Errorf("%s event %s: %w", ev.Type, ev.EventID, err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return projections.CacheDoc{}, fmt.Errorf("%s event %s: encode JSON: %w", ev.Type, ev.EventID, err)
	}
	return projections.CacheDoc{ID: s.ID, OrganizationID: s.OrganizationID, Version: s.Version,
		Score: float64(s.CreatedAt.UnixMilli()), JSON: b}, nil
}

// NewRedisDocument renders s; it fails, listing every problem, for a state
// a reader could not use: no id, no organization, a currency money does
// not know.
func NewRedisDocument(s *schemas.Invoice) (RedisDocument, error) {
	var errs []error
	if s.ID == "" {
		errs = append(errs, errors.New("state has no invoice id"))
	}
	if s.OrganizationID == "" {
		errs = append(errs, errors.New("state has no organization id"))
	}
	total, err := money.Format(s.TotalMinor, s.Currency)
	if err != nil {
		errs = append(errs, fmt.Errorf("total: %w", err))
	}
	lines := make([]RedisLine, len(s.Lines))
	for i, l := range s.Lines {
		amount, err := money.Format(l.AmountMinor, s.Currency)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %s: %w", l.LineID, err))
			break
		}
		lines[i] = RedisLine{LineID: l.LineID, Description: l.Description, AmountMinor: l.AmountMinor, Amount: amount}
	}
	if err := errors.Join(errs...); err != nil {
		return RedisDocument{}, err
	}
	ids := s.PaymentIDs
	if ids == nil {
		ids = []string{}
	}
	return RedisDocument{
		Version: s.Version, ID: s.ID, OrganizationID: s.OrganizationID, UserID: s.UserID, Currency: s.Currency,
		DueDate: s.DueDate.UTC().Format(time.DateOnly), Status: string(s.Status), Lines: lines,
		TotalMinor: s.TotalMinor, Total: total, PaymentIDs: ids, VoidReason: s.VoidReason,
		CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC(),
		IssuedAt: utcPtr(s.IssuedAt), PaidAt: utcPtr(s.PaidAt), VoidedAt: utcPtr(s.VoidedAt),
	}, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
