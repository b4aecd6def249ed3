package payments

import (
	"context"

	"github.com/prism-cqrs/prism/queries"
)

// The readers: one per read source, each answering the queries its source
// can. Every source's answer to the same query is the same answer (tested
// by running each query against every source it can be routed to). Errors:
// queries.ErrNotFound for what does not exist; anything else is a failure
// of the source (the router tries the next one).
//
// Applied reports the source's progress for consistency tokens: the next
// offset the source will read on the token's partition.
type (
	// ByIDReader reads one payment (any organization: the caller checks
	// the scope). A deleted or unknown id is queries.ErrNotFound.
	ByIDReader interface {
		ByID(ctx context.Context, id string) (Payment, error)
	}
	// Searcher runs a search within scope (p.OrganizationID narrows it;
	// an organization outside scope matches nothing).
	Searcher interface {
		Search(ctx context.Context, scope queries.Scope, p SearchParams) (SearchAnswer, error)
	}
	// StatisticsReader counts an organization's live payments per status
	// and currency.
	StatisticsReader interface {
		Statistics(ctx context.Context, org string) (StatisticsAnswer, error)
	}
	// AnalyticsReader answers analytics.
	AnalyticsReader interface {
		Analytics(ctx context.Context, p AnalyticsParams) (AnalyticsAnswer, error)
	}
	// TimelineReader lists a correlation id's events within scope; none is
	// queries.ErrNotFound.
	TimelineReader interface {
		Timeline(ctx context.Context, scope queries.Scope, correlationID string) (TimelineAnswer, error)
	}
	// Progress is a source's consistency progress.
	Progress interface {
		Applied(ctx context.Context, t queries.Token) (next int64, err error)
	}
)
