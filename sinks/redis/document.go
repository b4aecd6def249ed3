package redis

import (
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/internal/docstate"
)

// Document is the JSON stored at Keys.Payment: the payment's state after its
// last applied event. Amount is the decimal rendering of AmountMinor in the
// currency's minor digits ("100.00"), never a float. Version is the first
// field on purpose: the apply script reads it from the head of the stored
// JSON ({"version":N,...}) without decoding the document.
type Document struct {
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

// InvalidationMessage describes one applied change. Each message published
// on Keys.InvalidateChannel is a JSON array of them (the changes one script
// call applied).
type InvalidationMessage struct {
	OrganizationID string `json:"organizationId"`
	PaymentID      string `json:"paymentId"`
	Version        int64  `json:"version"`
}

// newDocument renders p; it fails for a state a reader could not use
// (no id, no organization, unknown currency), which the target rejects.
func newDocument(p *schemas.Payment) (Document, error) {
	amount, err := docstate.Amount(p)
	if err != nil {
		return Document{}, err
	}
	return Document{
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
