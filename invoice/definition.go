package invoice

import (
	"fmt"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records/avrorec"
)

// Definition returns the invoice aggregate as the generic pipeline runs it
// (aggregates.Definition): names, rules, codec and projections.
func Definition() (*aggregates.Definition, error) {
	codec, err := schemas.NewCodec()
	if err != nil {
		return nil, fmt.Errorf("invoice: codec: %w", err)
	}
	return &aggregates.Definition{
		Schemas: avrorec.Shipped("invoice/schemas", codec.Schemas()),
		Name:    "invoice",
		Plural:  "invoices",
		NewProcessor: func(o aggregates.ProcessorOptions) (processors.Aggregate, error) {
			return NewAggregate(AggregateConfig{
				Limits: Limits{MaxAmountMinor: o.MaxAmountMinor, DedupWindow: o.DedupWindow},
				Codec:  codec,
				Logger: o.Logger,
			})
		},
		Events:    codec.Events(),
		Results:   codec.Results(),
		Commands:  NewCommandCodec(codec),
		Generator: commandGenerator{},
		Table:     Table(),
		Document:  ElasticsearchProjection{},
		Cache:     RedisCache{},
		ReadModel: ReadModel(),
	}, nil
}
