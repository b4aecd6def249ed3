package payment

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
)

// RedisCache is Payment's Redis projection (projections.Cache): the
// document <ns>:payment:<id> (RedisDocument), the organization's recent
// index <ns>:org:<org>:recent scored by createdAt in Unix ms, the counter
// <ns>:org:<org>:cachever, and invalidation messages RedisInvalidation
// (README "Redis").
type RedisCache struct{}

var _ projections.Cache = RedisCache{}

// CacheLayout returns Payment's key and field names.
func (RedisCache) CacheLayout() projections.CacheLayout {
	return projections.CacheLayout{
		Key:               "payment",
		Recent:            "recent",
		CacheVersion:      "cachever",
		OrganizationField: "organizationId",
		IDField:           "paymentId",
	}
}

// Check refuses what CacheDoc can never store, from the event alone: a
// PaymentDeleted without aggregate or organization id, any other event
// without a payment state.
func (RedisCache) Check(ev *records.Event) string {
	if ev.Type == schemas.TypePaymentDeleted {
		if ev.AggregateID == "" || ev.OrganizationID == "" {
			return "PaymentDeleted without aggregate or organization id"
		}
		return ""
	}
	if p, ok := ev.State.(*schemas.Payment); !ok || p == nil {
		if ev.State == nil {
			return fmt.Sprintf("%s event %s carries no state", ev.Type, ev.EventID)
		}
		return fmt.Sprintf("%s event %s carries a %T, not a payment", ev.Type, ev.EventID, ev.State)
	}
	return ""
}

// CacheDoc renders ev: PaymentDeleted deletes; any other event must carry
// the payment's state, which it renders as RedisDocument. It fails for an
// event without state and for a state a reader could not use (no id, no
// organization, an amount money.Format refuses).
func (c RedisCache) CacheDoc(ev *records.Event) (projections.CacheDoc, error) {
	if reason := c.Check(ev); reason != "" {
		return projections.CacheDoc{}, errors.New(reason)
	}
	if ev.Type == schemas.TypePaymentDeleted {
		return projections.CacheDoc{Delete: true, ID: ev.AggregateID, OrganizationID: ev.OrganizationID, Version: ev.Version}, nil
	}
	p := ev.State.(*schemas.Payment)
	doc, err := newRedisDocument(p)
	if err != nil {
		return projections.CacheDoc{}, fmt.Errorf("%s event %s: %w", ev.Type, ev.EventID, err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return projections.CacheDoc{}, fmt.Errorf("%s event %s: encode JSON: %w", ev.Type, ev.EventID, err)
	}
	return projections.CacheDoc{ID: doc.ID, OrganizationID: doc.OrganizationID, Version: doc.Version,
		Score: float64(doc.CreatedAt.UnixMilli()), JSON: b}, nil
}

// RedisDocument is the JSON stored at <ns>:payment:<id>: the payment's
// state after its last applied event. Amount is the decimal rendering of
// AmountMinor in the currency's minor digits ("100.00"), never a float.
// Version is the first field, as projections.CacheDoc requires: the sink's
// script reads it from the head of the stored JSON ({"version":N,...})
// without decoding the document.
type RedisDocument struct {
	Version        int64     `json:"version"`
	ID             string    `json:"id"`
	OrganizationID string    `json:"organizationId"`
	UserID         string    `json:"userId"`
	AmountMinor    int64     `json:"amountMinor"`
	Amount         string    `json:"amount"`
	Currency       string    `json:"currency"`
	Description    string    `json:"description"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// RedisInvalidation describes one applied change of a payment. Each
// message the Redis sink publishes on <ns>:invalidate is a JSON array of
// changes (those one script call applied); a payment's change decodes into
// this type.
type RedisInvalidation struct {
	OrganizationID string `json:"organizationId"`
	PaymentID      string `json:"paymentId"`
	Version        int64  `json:"version"`
}

// newRedisDocument renders p; it fails, listing every problem, for a state
// a reader could not use: no payment id, no organization id, or an amount
// and currency money.Format refuses (an unknown currency).
func newRedisDocument(p *schemas.Payment) (RedisDocument, error) {
	amount, err := DocumentAmount(p)
	if err != nil {
		return RedisDocument{}, err
	}
	return RedisDocument{
		Version:        p.Version,
		ID:             p.ID,
		OrganizationID: p.OrganizationID,
		UserID:         p.UserID,
		AmountMinor:    p.AmountMinor,
		Amount:         amount,
		Currency:       p.Currency,
		Description:    p.Description,
		Status:         string(p.Status),
		CreatedAt:      p.CreatedAt.UTC(),
		UpdatedAt:      p.UpdatedAt.UTC(),
	}, nil
}
