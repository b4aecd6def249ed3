package payment

import (
	"errors"
	"fmt"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/payment/schemas"
)

// DocumentAmount checks that p is a state a reader of a document (the
// Elasticsearch document, ElasticsearchProjection; the Redis document,
// RedisCache) can use and returns its
// amount as money.Format writes it ("100.00"). It fails, listing every
// problem, when p has no payment id, no organization id, or an amount and
// currency money.Format refuses (an unknown currency); the sink rejects
// such an event to the events DLQ.
func DocumentAmount(p *schemas.Payment) (string, error) {
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
