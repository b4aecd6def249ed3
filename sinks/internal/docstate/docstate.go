// Package docstate holds the check the document sinks (Elasticsearch,
// Redis) share before rendering a payment state: what a reader needs.
package docstate

import (
	"errors"
	"fmt"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/payment/schemas"
)

// Amount checks that p is a state a reader can use and returns its amount
// as money.Format writes it ("100.00"). It fails, listing every problem,
// when p has no payment id, no organization id, or an amount and currency
// money.Format refuses (an unknown currency); the target rejects such an
// event.
func Amount(p *schemas.Payment) (string, error) {
	var errs []error
	if p.ID == "" {
		errs = append(errs, errors.New("state has no payment id"))
	}
	if p.OrganizationID == "" {
		errs = append(errs, errors.New("state has no organization id"))
	}
	amount, err := money.Format(p.AmountMinor, p.Currency)
	if err != nil {
		errs = append(errs, fmt.Errorf("amount: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return amount, nil
}
