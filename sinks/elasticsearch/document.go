package elasticsearch

import (
	"encoding/json"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/internal/docstate"
)

// DateFormat is how dates are written: UTC, millisecond precision (the
// resolution of an Elasticsearch date).
const DateFormat = "2006-01-02T15:04:05.000Z"

// Document is the indexed form of a payment (see Mapping). Amount is the
// exact decimal rendering of AmountMinor in the currency's digits, written
// as a JSON number; AmountMinor stays the exact value for sums.
type Document struct {
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

// NewDocument renders p; it fails for a state no reader could use (no id,
// no organization, an unknown currency), which the target rejects.
func NewDocument(p *schemas.Payment) (Document, error) {
	amount, err := docstate.Amount(p)
	if err != nil {
		return Document{}, err
	}
	return Document{
		ID:             p.ID,
		OrganizationID: p.OrganizationID,
		UserID:         p.UserID,
		AmountMinor:    p.AmountMinor,
		Amount:         json.Number(amount),
		Currency:       p.Currency,
		Description:    p.Description,
		Status:         string(p.Status),
		CreatedAt:      formatDate(p.CreatedAt),
		UpdatedAt:      formatDate(p.UpdatedAt),
		Version:        p.Version,
	}, nil
}

func formatDate(t time.Time) string { return t.UTC().Format(DateFormat) }
