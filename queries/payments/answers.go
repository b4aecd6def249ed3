package payments

import (
	"encoding/json"
	"time"

	"github.com/prism-cqrs/prism/money"
)

// The query types of Payment's set.
const (
	TypeByID       = "payments.byId"
	TypeSearch     = "payments.search"
	TypeStatistics = "payments.statistics"
	TypeAnalytics  = "payments.analytics"
	TypeTimeline   = "payments.timeline"
)

// TimeLayout is how every answer writes a time: UTC, milliseconds, as the
// sinks store them.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t in TimeLayout (UTC, truncated to the millisecond).
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(TimeLayout) }

// Payment is one payment in an answer (by id, search items). Money is the
// exact decimal string plus minor units and currency, never a float.
type Payment struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	UserID         string `json:"userId"`
	Amount         string `json:"amount"`
	AmountMinor    int64  `json:"amountMinor"`
	Currency       string `json:"currency"`
	Description    string `json:"description"`
	Status         string `json:"status"`
	CreatedAt      string `json:"createdAt"` // TimeLayout
	UpdatedAt      string `json:"updatedAt"` // TimeLayout
	Version        int64  `json:"version"`
}

// SearchAnswer is a page of search results; Total counts every match.
type SearchAnswer struct {
	Items []Payment `json:"items"`
	Total int64     `json:"total"`
	Page  int       `json:"page"`
	Size  int       `json:"size"`
}

// Total is a count and a sum of amounts in one currency.
type Total struct {
	Currency   string `json:"currency"`
	Count      int64  `json:"count"`
	Total      string `json:"total"` // exact decimal of TotalMinor
	TotalMinor int64  `json:"totalMinor"`
}

// StatusTotal is a Total of the payments in one status.
type StatusTotal struct {
	Status string `json:"status"`
	Total
}

// NewTotal fills Total's decimal string from minor units.
func NewTotal(currency string, count, minor int64) Total {
	s, err := money.Format(minor, currency)
	if err != nil {
		s = "" // an unknown currency cannot be stored by the sinks
	}
	return Total{Currency: currency, Count: count, Total: s, TotalMinor: minor}
}

// StatisticsAnswer is an organization's live payments: count, and count
// and total per status and currency (sorted by status, then currency;
// only non-empty groups).
type StatisticsAnswer struct {
	OrganizationID string        `json:"organizationId"`
	Count          int64         `json:"count"`
	ByStatus       []StatusTotal `json:"byStatus"`
}

// Bucket is one interval of the analytics histogram: the payments created
// in it.
type Bucket struct {
	Start      string  `json:"start"` // TimeLayout, the interval's first instant (UTC)
	Count      int64   `json:"count"`
	ByCurrency []Total `json:"byCurrency"`
}

// AnalyticsAnswer describes the live payments of an organization created
// in [From, To): a histogram by creation time (only non-empty buckets, in
// order), totals by status and currency, by currency (created), and the
// captured (status CAPTURED or REFUNDED) and refunded (REFUNDED) totals by
// currency. Lists are sorted by status, then currency.
type AnalyticsAnswer struct {
	OrganizationID string        `json:"organizationId"`
	From           string        `json:"from"`
	To             string        `json:"to"`
	Interval       string        `json:"interval"`
	Count          int64         `json:"count"`
	Buckets        []Bucket      `json:"buckets"`
	ByStatus       []StatusTotal `json:"byStatus"`
	Created        []Total       `json:"created"`
	Captured       []Total       `json:"captured"`
	Refunded       []Total       `json:"refunded"`
}

// TimelineEvent is one event of a correlation id's timeline.
type TimelineEvent struct {
	EventID        string          `json:"eventId"`
	AggregateID    string          `json:"aggregateId"`
	OrganizationID string          `json:"organizationId"`
	Type           string          `json:"type"`
	Version        int64           `json:"version"`
	Timestamp      string          `json:"timestamp"` // TimeLayout
	Data           json.RawMessage `json:"data"`
	Metadata       json.RawMessage `json:"metadata"`
}

// TimelineAnswer is the events of a correlation id the caller may see, in
// order: by timestamp, then aggregate id, then version.
type TimelineAnswer struct {
	CorrelationID string          `json:"correlationId"`
	Events        []TimelineEvent `json:"events"`
}
