package payment

import (
	"fmt"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records/avrorec"
)

// Definition returns the payment aggregate as the generic pipeline runs it
// (aggregates.Definition): names, rules, codec and projections.
func Definition() (*aggregates.Definition, error) {
	codec, err := schemas.NewCodec()
	if err != nil {
		return nil, fmt.Errorf("payment: codec: %w", err)
	}
	return &aggregates.Definition{
		Schemas: avrorec.Shipped("payment/schemas", codec.Schemas()),
		Name:    "payment",
		Plural:  "payments",
		NewProcessor: func(o aggregates.ProcessorOptions) (processors.Aggregate, error) {
			return NewAggregate(AggregateConfig{
				Limits: Limits{MaxAmountMinor: o.MaxAmountMinor, DedupWindow: o.DedupWindow},
				Codec:  codec,
				Logger: o.Logger,
			})
		},
		Events:    codec.Events(),
		Results:   codec.Results(),
		Table:     Table(),
		Cache:     RedisCache{},
		ReadModel: ReadModel{},
		Document:  ElasticsearchProjection{},
		Commands:  NewCommandCodec(codec),
		Generator: commandGenerator{},
	}, nil
}
