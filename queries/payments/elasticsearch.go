package payments

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/topology"
)

// ElasticsearchReader reads the alias the Elasticsearch sink writes
// (README "Elasticsearch"; documents: payment.ElasticsearchDocument):
// search and analytics. Its progress is the committed offset of the sink's
// consumer group.
type ElasticsearchReader struct {
	es    *elasticsearch.Client
	admin *kadm.Client
	alias string
	group string
}

var _ ElasticsearchSource = (*ElasticsearchReader)(nil)

// NewElasticsearchReader reads names.ElasticsearchAlias() with es; admin
// reads the offsets of the group names.SinkGroup("elasticsearch").
func NewElasticsearchReader(es *elasticsearch.Client, admin *kadm.Client, names topology.Names) *ElasticsearchReader {
	return &ElasticsearchReader{es: es, admin: admin, alias: names.ElasticsearchAlias(), group: names.SinkGroup("elasticsearch")}
}

// esDoc is the _source of a payment document (payment.ElasticsearchDocument).
type esDoc struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
	UserID         string `json:"user_id"`
	AmountMinor    int64  `json:"amount_minor"`
	Currency       string `json:"currency"`
	Description    string `json:"description"`
	Status         string `json:"status"`
	CreatedAt      string `json:"created_at"`
	UpdatedAt      string `json:"updated_at"`
	Version        int64  `json:"version"`
}

// esSortField is the field of a sort parameter.
func esSortField(sort string) (string, bool) {
	switch sort {
	case SortCreatedAt:
		return "created_at", true
	case SortStatus:
		return "status", true
	case SortAmount:
		return "amount", true
	}
	return "", false
}

// esObj is a JSON object of a request body.
type esObj = map[string]any

// Search runs p within scope: every filter is a bool filter clause; the
// words of q a match on description with operator and (the text is a
// value in the JSON body, never query syntax).
func (r *ElasticsearchReader) Search(ctx context.Context, scope queries.Scope, p SearchParams) (SearchAnswer, error) {
	empty := SearchAnswer{Items: []Payment{}, Page: p.Page, Size: p.Size}
	filter := []any{}
	switch {
	case p.OrganizationID != "":
		if !inScope(scope, p.OrganizationID) {
			return empty, nil
		}
		filter = append(filter, esObj{"term": esObj{"organization_id": p.OrganizationID}})
	case !scope.All():
		filter = append(filter, esObj{"terms": esObj{"organization_id": scope.Orgs()}})
	}
	if p.Status != "" {
		filter = append(filter, esObj{"term": esObj{"status": p.Status}})
	}
	if p.Currency != "" {
		filter = append(filter, esObj{"term": esObj{"currency": p.Currency}})
	}
	if p.HasAmountRange() {
		classes := p.CurrencyDigits()
		var should []any
		for _, digits := range slices.Sorted(maps.Keys(classes)) {
			lo, hi, ok := p.AmountRange(digits)
			if !ok {
				continue
			}
			rng := esObj{"gte": lo}
			if hi != math.MaxInt64 {
				rng["lte"] = hi
			}
			should = append(should, esObj{"bool": esObj{"filter": []any{
				esObj{"terms": esObj{"currency": classes[digits]}},
				esObj{"range": esObj{"amount_minor": rng}},
			}}})
		}
		if len(should) == 0 {
			return empty, nil
		}
		filter = append(filter, esObj{"bool": esObj{"should": should, "minimum_should_match": 1}})
	}
	boolQuery := esObj{"filter": filter}
	if len(p.Words) > 0 {
		boolQuery["must"] = []any{esObj{"match": esObj{"description": esObj{"query": strings.Join(p.Words, " "), "operator": "and"}}}}
	}
	field, ok := esSortField(p.Sort)
	if !ok {
		return SearchAnswer{}, fmt.Errorf("elasticsearch search: unknown sort %q", p.Sort)
	}
	order := "asc"
	if p.Order == "desc" {
		order = "desc"
	}
	body := esObj{
		"query":            esObj{"bool": boolQuery},
		"sort":             []any{esObj{field: esObj{"order": order}}, esObj{"id": esObj{"order": "asc"}}},
		"from":             (p.Page - 1) * p.Size,
		"size":             p.Size,
		"track_total_hits": true,
	}
	var res struct {
		esHead
		Hits struct {
			Total struct {
				Value    int64  `json:"value"`
				Relation string `json:"relation"`
			} `json:"total"`
			Hits []struct {
				Source esDoc `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := r.search(ctx, body, &res); err != nil {
		return SearchAnswer{}, err
	}
	if res.Hits.Total.Relation != "eq" {
		return SearchAnswer{}, fmt.Errorf("elasticsearch search of %s: total is %q %d, not exact", r.alias, res.Hits.Total.Relation, res.Hits.Total.Value)
	}
	out := empty
	out.Total = res.Hits.Total.Value
	for _, h := range res.Hits.Hits {
		pay, err := h.Source.payment()
		if err != nil {
			return SearchAnswer{}, fmt.Errorf("elasticsearch search of %s: %w", r.alias, err)
		}
		out.Items = append(out.Items, pay)
	}
	return out, nil
}

// payment converts a document to an answer's Payment.
func (d esDoc) payment() (Payment, error) {
	amount, err := money.Format(d.AmountMinor, d.Currency)
	if err != nil {
		return Payment{}, fmt.Errorf("document %q: %w", d.ID, err)
	}
	created, err := time.Parse(time.RFC3339Nano, d.CreatedAt)
	if err != nil {
		return Payment{}, fmt.Errorf("document %q: created_at: %w", d.ID, err)
	}
	updated, err := time.Parse(time.RFC3339Nano, d.UpdatedAt)
	if err != nil {
		return Payment{}, fmt.Errorf("document %q: updated_at: %w", d.ID, err)
	}
	return Payment{
		ID: d.ID, OrganizationID: d.OrganizationID, UserID: d.UserID,
		Amount: amount, AmountMinor: d.AmountMinor, Currency: d.Currency,
		Description: d.Description, Status: d.Status,
		CreatedAt: FormatTime(created), UpdatedAt: FormatTime(updated), Version: d.Version,
	}, nil
}

// esTerms is a terms aggregation's answer whose buckets hold a sum
// ("sum") or further terms ("currency").
type esTerms struct {
	SumOtherDocCount int64 `json:"sum_other_doc_count"`
	Buckets          []struct {
		Key      string   `json:"key"`
		DocCount int64    `json:"doc_count"`
		Sum      esSum    `json:"sum"`
		Currency *esTerms `json:"currency"`
	} `json:"buckets"`
}

type esSum struct {
	Value *float64 `json:"value"`
}

// Analytics aggregates the organization's payments created in
// [p.From, p.To): a date histogram (calendar interval, UTC, non-empty
// buckets) and terms by status and currency, each summing amount_minor.
func (r *ElasticsearchReader) Analytics(ctx context.Context, p AnalyticsParams) (AnalyticsAnswer, error) {
	if !slices.Contains(Intervals, p.Interval) {
		return AnalyticsAnswer{}, fmt.Errorf("elasticsearch analytics: unknown interval %q", p.Interval)
	}
	currencies := len(money.Currencies())
	byCurrency := func() esObj {
		return esObj{"terms": esObj{"field": "currency", "size": currencies},
			"aggs": esObj{"sum": esObj{"sum": esObj{"field": "amount_minor"}}}}
	}
	body := esObj{
		"size":             0,
		"track_total_hits": true,
		"query": esObj{"bool": esObj{"filter": []any{
			esObj{"term": esObj{"organization_id": p.OrganizationID}},
			esObj{"range": esObj{"created_at": esObj{"gte": FormatTime(p.From), "lt": FormatTime(p.To)}}},
		}}},
		"aggs": esObj{
			"histogram": esObj{
				"date_histogram": esObj{"field": "created_at", "calendar_interval": p.Interval, "time_zone": "UTC", "min_doc_count": 1},
				"aggs":           esObj{"currency": byCurrency()},
			},
			"status": esObj{
				"terms": esObj{"field": "status", "size": len(Statuses)},
				"aggs":  esObj{"currency": byCurrency()},
			},
			"currency": byCurrency(),
			"captured": esObj{
				"filter": esObj{"terms": esObj{"status": []string{"CAPTURED", "REFUNDED"}}},
				"aggs":   esObj{"currency": byCurrency()},
			},
			"refunded": esObj{
				"filter": esObj{"term": esObj{"status": "REFUNDED"}},
				"aggs":   esObj{"currency": byCurrency()},
			},
		},
	}
	var res struct {
		esHead
		Hits struct {
			Total struct {
				Value    int64  `json:"value"`
				Relation string `json:"relation"`
			} `json:"total"`
		} `json:"hits"`
		Aggregations struct {
			Histogram struct {
				Buckets []struct {
					Key      int64   `json:"key"`
					DocCount int64   `json:"doc_count"`
					Currency esTerms `json:"currency"`
				} `json:"buckets"`
			} `json:"histogram"`
			Status   esTerms `json:"status"`
			Currency esTerms `json:"currency"`
			Captured struct {
				Currency esTerms `json:"currency"`
			} `json:"captured"`
			Refunded struct {
				Currency esTerms `json:"currency"`
			} `json:"refunded"`
		} `json:"aggregations"`
	}
	if err := r.search(ctx, body, &res); err != nil {
		return AnalyticsAnswer{}, err
	}
	if res.Hits.Total.Relation != "eq" {
		return AnalyticsAnswer{}, fmt.Errorf("elasticsearch analytics of %s: total is %q %d, not exact", r.alias, res.Hits.Total.Relation, res.Hits.Total.Value)
	}
	fail := func(err error) (AnalyticsAnswer, error) {
		return AnalyticsAnswer{}, fmt.Errorf("elasticsearch analytics of %s: %w", r.alias, err)
	}
	aggs := res.Aggregations
	out := AnalyticsAnswer{
		OrganizationID: p.OrganizationID, From: FormatTime(p.From), To: FormatTime(p.To), Interval: p.Interval,
		Count: res.Hits.Total.Value, Buckets: []Bucket{}, ByStatus: []StatusTotal{},
	}
	for _, b := range aggs.Histogram.Buckets {
		totals, err := b.Currency.totals("histogram bucket currencies")
		if err != nil {
			return fail(err)
		}
		out.Buckets = append(out.Buckets, Bucket{Start: FormatTime(time.UnixMilli(b.Key)), Count: b.DocCount, ByCurrency: totals})
	}
	slices.SortFunc(out.Buckets, func(a, b Bucket) int { return cmp.Compare(a.Start, b.Start) })
	if aggs.Status.SumOtherDocCount != 0 {
		return fail(fmt.Errorf("%d payments have a status outside the %d known ones", aggs.Status.SumOtherDocCount, len(Statuses)))
	}
	for _, b := range aggs.Status.Buckets {
		if b.Currency == nil {
			return fail(fmt.Errorf("status %q: no currency aggregation in the answer", b.Key))
		}
		totals, err := b.Currency.totals("status " + b.Key + " currencies")
		if err != nil {
			return fail(err)
		}
		for _, t := range totals {
			out.ByStatus = append(out.ByStatus, StatusTotal{Status: b.Key, Total: t})
		}
	}
	slices.SortFunc(out.ByStatus, func(a, b StatusTotal) int {
		return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Currency, b.Currency))
	})
	var err error
	if out.Created, err = aggs.Currency.totals("currencies"); err != nil {
		return fail(err)
	}
	if out.Captured, err = aggs.Captured.Currency.totals("captured currencies"); err != nil {
		return fail(err)
	}
	if out.Refunded, err = aggs.Refunded.Currency.totals("refunded currencies"); err != nil {
		return fail(err)
	}
	return out, nil
}

// esMaxExact is 2^53: every integer below it is exact in a float64.
const esMaxExact = 1 << 53

// totals reads currency terms buckets holding sums into Totals sorted by
// currency. The sum of a long comes back as a double: it must be an
// integer below 2^53 (exact), else the answer fails rather than round.
func (t esTerms) totals(what string) ([]Total, error) {
	if t.SumOtherDocCount != 0 {
		return nil, fmt.Errorf("%s: %d payments in currencies beyond the %d supported", what, t.SumOtherDocCount, len(money.Currencies()))
	}
	out := make([]Total, 0, len(t.Buckets))
	for _, b := range t.Buckets {
		if b.Sum.Value == nil {
			return nil, fmt.Errorf("%s: currency %q has no sum", what, b.Key)
		}
		v := *b.Sum.Value
		if v != math.Trunc(v) || math.Abs(v) >= esMaxExact {
			return nil, fmt.Errorf("%s: sum of currency %q is %v, not an exact integer (beyond 2^53?)", what, b.Key, v)
		}
		out = append(out, NewTotal(b.Key, b.DocCount, int64(v)))
	}
	slices.SortFunc(out, func(a, b Total) int { return cmp.Compare(a.Currency, b.Currency) })
	return out, nil
}

// Applied returns the committed offset of the sink's group on the token's
// partition (0 when none). When it passes the token, it refreshes the
// alias first, so that a read that follows sees the token's write.
func (r *ElasticsearchReader) Applied(ctx context.Context, t queries.Token) (int64, error) {
	if r.admin == nil {
		return 0, fmt.Errorf("elasticsearch progress of %s: no Kafka admin client", r.alias)
	}
	offs, err := r.admin.FetchOffsets(ctx, r.group)
	if err != nil {
		return 0, fmt.Errorf("elasticsearch progress: fetch offsets of group %s: %w", r.group, err)
	}
	var next int64
	if o, ok := offs.Lookup(t.Topic, t.Partition); ok {
		if o.Err != nil {
			return 0, fmt.Errorf("elasticsearch progress: offset of group %s on %s/%d: %w", r.group, t.Topic, t.Partition, o.Err)
		}
		next = max(o.At, 0)
	}
	if next > t.Offset {
		if err := r.refresh(ctx); err != nil {
			return 0, err
		}
	}
	return next, nil
}

// refresh makes every write to the alias's index visible to searches.
func (r *ElasticsearchReader) refresh(ctx context.Context) error {
	_, err := r.do(ctx, "refresh", esapi.IndicesRefreshRequest{Index: []string{r.alias}})
	return err
}

// esHead is the part of a search answer that says whether it is whole;
// every answer type embeds it, so the body is decoded once.
type esHead struct {
	TimedOut bool `json:"timed_out"`
	Shards   struct {
		Total  int `json:"total"`
		Failed int `json:"failed"`
	} `json:"_shards"`
}

func (h *esHead) head() *esHead { return h }

// esAnswer is a search answer type (it embeds esHead).
type esAnswer interface{ head() *esHead }

// search runs a search with body on the alias and decodes its answer.
func (r *ElasticsearchReader) search(ctx context.Context, body esObj, out esAnswer) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("elasticsearch search of %s: encode request: %w", r.alias, err)
	}
	raw, err := r.do(ctx, "search", esapi.SearchRequest{Index: []string{r.alias}, Body: bytes.NewReader(b)})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("elasticsearch search of %s: decode answer: %w", r.alias, err)
	}
	// A partial answer is no answer: every source must give the whole one.
	if h := out.head(); h.TimedOut || h.Shards.Failed > 0 {
		return fmt.Errorf("elasticsearch search of %s: partial answer (timed out: %t, %d of %d shards failed)", r.alias, h.TimedOut, h.Shards.Failed, h.Shards.Total)
	}
	return nil
}

// do sends req and returns the body of a 200 answer. Any other status is
// an error naming Elasticsearch's error type and reason (a missing alias is
// index_not_found_exception: a failure of the source, not ErrNotFound).
func (r *ElasticsearchReader) do(ctx context.Context, what string, req esapi.Request) ([]byte, error) {
	res, err := req.Do(ctx, r.es)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch %s of %s: %w", what, r.alias, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch %s of %s: read answer: %w", what, r.alias, err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		reason := e.Error.Reason
		if len(reason) > 300 {
			reason = reason[:300] + "..."
		}
		return nil, fmt.Errorf("elasticsearch %s of %s: status %d: %s: %s", what, r.alias, res.StatusCode, e.Error.Type, reason)
	}
	return raw, nil
}
