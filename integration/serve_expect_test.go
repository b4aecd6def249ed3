package integration

// The serve tests' expectation: every query's answer computed from the
// generated commands (generateSinkCommands' model: which payments live, in
// which state) and from the events topic for what only the processor
// knows (event ids and times: createdAt is the PaymentCreated event's
// occurredAt, updatedAt the last event's). Nothing here asks a read source
// or the project's readers: sorting, filtering, word matching, bucketing
// and decimal formatting are the test's own.

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/queries/payments"
)

// serveEvent is one event as the events topic carries it.
type serveEvent struct {
	id, aggregate, org, typ, corr string
	version                       int64
	at                            time.Time
}

type serveExpect struct {
	x       sinkExpect
	events  map[string]serveEvent // "<aggregate>/<version>"
	created map[string]time.Time  // payment id → its PaymentCreated's occurredAt
	updated map[string]time.Time  // payment id → its last event's occurredAt
}

func eventKey(id string, v int64) string { return fmt.Sprintf("%s/%d", id, v) }

// readServeExpect reads the events topic (read committed) and checks it
// holds exactly the events the model expects, once each.
func readServeExpect(t *testing.T, e *sinkEnv, x sinkExpect) *serveExpect {
	t.Helper()
	pe := &procEnv{t: t, brokers: e.brokers, names: e.names, cl: e.cl}
	s := &serveExpect{x: x, events: map[string]serveEvent{}, created: map[string]time.Time{}, updated: map[string]time.Time{}}
	for _, r := range pe.readTopic(e.names.EventsTopic(), len(x.events), time.Minute) {
		if r.Value == nil {
			continue // a deletion's tombstone
		}
		ev, err := e.codec.DecodeEvent(r.Value)
		if err != nil {
			t.Fatalf("event at %d/%d: %v", r.Partition, r.Offset, err)
		}
		k := eventKey(ev.AggregateID, ev.Version)
		if _, dup := s.events[k]; dup {
			t.Fatalf("event %s twice on the events topic", k)
		}
		s.events[k] = serveEvent{id: ev.EventID, aggregate: ev.AggregateID, org: ev.OrganizationID, typ: ev.Type,
			corr: ev.CorrelationID, version: ev.Version, at: ev.OccurredAt.UTC()}
	}
	if len(s.events) != len(x.events) {
		t.Fatalf("%d events on the events topic, the commands make %d", len(s.events), len(x.events))
	}
	for _, ev := range x.events {
		got, ok := s.events[eventKey(ev.aggregate, ev.version)]
		if !ok || got.typ != ev.typ || got.org != ev.org || got.corr != ev.corr {
			t.Fatalf("event %s v%d %s of %s (correlation %s): the topic has %+v", ev.aggregate, ev.version, ev.typ, ev.org, ev.corr, got)
		}
		if ev.typ == schemas.TypePaymentCreated {
			s.created[ev.aggregate] = got.at
		}
	}
	for id, p := range x.payments {
		s.updated[id] = s.events[eventKey(id, p.version)].at
	}
	return s
}

// ---------------------------------------------------------------- money

// serveDigits are the decimals of the generator's currencies (the test's
// own table).
var serveDigits = map[string]int{"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0}

// thousandths is minor units of currency as thousandths of the unit.
func thousandths(minor int64, currency string) int64 {
	d, ok := serveDigits[currency]
	if !ok {
		panic("no digits for " + currency)
	}
	for ; d < 3; d++ {
		minor *= 10
	}
	return minor
}

// parseThousandths reads a decimal with at most 3 decimals ("2500.5") as
// thousandths.
func parseThousandths(s string) int64 {
	i, f, _ := strings.Cut(s, ".")
	f = (f + "000")[:3]
	n, err := strconv.ParseInt(i+f, 10, 64)
	if err != nil {
		panic("bad decimal " + s)
	}
	return n
}

func expTotal(currency string, count, minor int64) payments.Total {
	return payments.Total{Currency: currency, Count: count, Total: testDecimal(minor, currency), TotalMinor: minor}
}

// ---------------------------------------------------------------- payments

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// payment is the expected by-id answer of a live payment.
func (s *serveExpect) payment(id string) payments.Payment {
	p := s.x.payments[id]
	return payments.Payment{ID: id, OrganizationID: p.org, UserID: p.user, Amount: testDecimal(p.amount, p.currency),
		AmountMinor: p.amount, Currency: p.currency, Description: p.descr, Status: string(p.status),
		CreatedAt: fmtTime(s.created[id]), UpdatedAt: fmtTime(s.updated[id]), Version: p.version}
}

// liveIDs and deletedIDs are sorted.
func (s *serveExpect) liveIDs() []string    { return s.ids(false) }
func (s *serveExpect) deletedIDs() []string { return s.ids(true) }

func (s *serveExpect) ids(deleted bool) []string {
	var out []string
	for id, p := range s.x.payments {
		if p.deleted == deleted {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// orgs are the organizations with a payment, sorted.
func (s *serveExpect) orgs() []string {
	var out []string
	for _, p := range s.x.payments {
		if !slices.Contains(out, p.org) {
			out = append(out, p.org)
		}
	}
	slices.Sort(out)
	return out
}

// sample takes every k-th of ids so that about n remain.
func sample(ids []string, n int) []string {
	if len(ids) <= n {
		return ids
	}
	k := len(ids) / n
	var out []string
	for i := 0; i < len(ids) && len(out) < n; i += k {
		out = append(out, ids[i])
	}
	return out
}

// ---------------------------------------------------------------- search

// searchQ is a search as the test writes it (URL parameters); "" is
// absent.
type searchQ struct {
	org, status, currency, min, max, q string
	sort, order                        string
	page, size                         int
}

// values are the URL parameters of q.
func (q searchQ) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"organizationId": q.org, "status": q.status, "currency": q.currency,
		"minAmount": q.min, "maxAmount": q.max, "q": q.q, "sort": q.sort, "order": q.order} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.page != 0 {
		v.Set("page", strconv.Itoa(q.page))
	}
	if q.size != 0 {
		v.Set("size", strconv.Itoa(q.size))
	}
	return v
}

func (q searchQ) path() string { return "/v1/payments?" + q.values().Encode() }

// words splits text into lower-case runs of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// matches lists the live payments of scope (nil: every organization)
// matching q's filters, sorted as q asks (default createdAt desc), ties by
// id ascending.
func (s *serveExpect) matches(scope []string, q searchQ) []payments.Payment {
	var out []payments.Payment
	qw := words(q.q)
	for _, id := range s.liveIDs() {
		p := s.payment(id)
		switch {
		case scope != nil && !slices.Contains(scope, p.OrganizationID),
			q.org != "" && p.OrganizationID != q.org,
			q.status != "" && p.Status != strings.ToUpper(q.status),
			q.currency != "" && p.Currency != strings.ToUpper(q.currency),
			q.min != "" && thousandths(p.AmountMinor, p.Currency) < parseThousandths(q.min),
			q.max != "" && thousandths(p.AmountMinor, p.Currency) > parseThousandths(q.max):
			continue
		}
		dw := words(p.Description)
		ok := true
		for _, w := range qw {
			ok = ok && slices.Contains(dw, w)
		}
		if ok {
			out = append(out, p)
		}
	}
	sortField, desc := cmp.Or(q.sort, "createdAt"), cmp.Or(q.order, "desc") == "desc"
	slices.SortFunc(out, func(a, b payments.Payment) int {
		var c int
		switch sortField {
		case "createdAt":
			c = strings.Compare(a.CreatedAt, b.CreatedAt)
		case "status":
			c = strings.Compare(a.Status, b.Status)
		case "amount":
			c = cmp.Compare(thousandths(a.AmountMinor, a.Currency), thousandths(b.AmountMinor, b.Currency))
		default:
			panic("sort " + sortField)
		}
		if desc {
			c = -c
		}
		return cmp.Or(c, strings.Compare(a.ID, b.ID))
	})
	return out
}

// search is the expected answer of q (one page).
func (s *serveExpect) search(scope []string, q searchQ) payments.SearchAnswer {
	all := s.matches(scope, q)
	page, size := cmp.Or(q.page, 1), cmp.Or(q.size, 20)
	from, to := min((page-1)*size, len(all)), min(page*size, len(all))
	items := append([]payments.Payment{}, all[from:to]...)
	return payments.SearchAnswer{Items: items, Total: int64(len(all)), Page: page, Size: size}
}

// ---------------------------------------------------------------- statistics

// livePayments of org.
func (s *serveExpect) livePayments(org string) []payments.Payment {
	var out []payments.Payment
	for _, id := range s.liveIDs() {
		if p := s.payment(id); p.OrganizationID == org {
			out = append(out, p)
		}
	}
	return out
}

// byStatus groups ps by status and currency, sorted.
func byStatus(ps []payments.Payment) []payments.StatusTotal {
	type k struct{ status, currency string }
	n, sum := map[k]int64{}, map[k]int64{}
	for _, p := range ps {
		kk := k{p.Status, p.Currency}
		n[kk]++
		sum[kk] += p.AmountMinor
	}
	out := []payments.StatusTotal{}
	for kk, c := range n {
		out = append(out, payments.StatusTotal{Status: kk.status, Total: expTotal(kk.currency, c, sum[kk])})
	}
	slices.SortFunc(out, func(a, b payments.StatusTotal) int {
		return cmp.Or(strings.Compare(a.Status, b.Status), strings.Compare(a.Currency, b.Currency))
	})
	return out
}

// byCurrency totals ps by currency, sorted.
func byCurrency(ps []payments.Payment) []payments.Total {
	n, sum := map[string]int64{}, map[string]int64{}
	for _, p := range ps {
		n[p.Currency]++
		sum[p.Currency] += p.AmountMinor
	}
	out := []payments.Total{}
	for c, k := range n {
		out = append(out, expTotal(c, k, sum[c]))
	}
	slices.SortFunc(out, func(a, b payments.Total) int { return strings.Compare(a.Currency, b.Currency) })
	return out
}

func (s *serveExpect) statistics(org string) payments.StatisticsAnswer {
	ps := s.livePayments(org)
	return payments.StatisticsAnswer{OrganizationID: org, Count: int64(len(ps)), ByStatus: byStatus(ps)}
}

// ---------------------------------------------------------------- analytics

// bucketStart truncates t (UTC) to its day, ISO week (Monday) or month.
func bucketStart(t time.Time, interval string) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch interval {
	case "day":
		return day
	case "week":
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		return day.AddDate(0, 0, -back)
	case "month":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	panic("interval " + interval)
}

func (s *serveExpect) analytics(org string, from, to time.Time, interval string) payments.AnalyticsAnswer {
	var in, captured, refunded []payments.Payment
	buckets := map[time.Time][]payments.Payment{}
	for _, p := range s.livePayments(org) {
		c := s.created[p.ID]
		if c.Before(from) || !c.Before(to) {
			continue
		}
		in = append(in, p)
		b := bucketStart(c, interval)
		buckets[b] = append(buckets[b], p)
		if p.Status == "CAPTURED" || p.Status == "REFUNDED" {
			captured = append(captured, p)
		}
		if p.Status == "REFUNDED" {
			refunded = append(refunded, p)
		}
	}
	a := payments.AnalyticsAnswer{OrganizationID: org, From: fmtTime(from), To: fmtTime(to), Interval: interval,
		Count: int64(len(in)), Buckets: []payments.Bucket{}, ByStatus: byStatus(in), Created: byCurrency(in),
		Captured: byCurrency(captured), Refunded: byCurrency(refunded)}
	for b, ps := range buckets {
		a.Buckets = append(a.Buckets, payments.Bucket{Start: fmtTime(b), Count: int64(len(ps)), ByCurrency: byCurrency(ps)})
	}
	slices.SortFunc(a.Buckets, func(x, y payments.Bucket) int { return strings.Compare(x.Start, y.Start) })
	return a
}

// ---------------------------------------------------------------- timeline

// timeline is the expected timeline of a correlation id within scope (nil:
// every organization), data and metadata left out (nil); ok is false when
// it has no event.
func (s *serveExpect) timeline(scope []string, corr string) (payments.TimelineAnswer, bool) {
	a := payments.TimelineAnswer{CorrelationID: corr, Events: []payments.TimelineEvent{}}
	var evs []serveEvent
	for _, ev := range s.x.events {
		if ev.corr == corr && (scope == nil || slices.Contains(scope, ev.org)) {
			evs = append(evs, s.events[eventKey(ev.aggregate, ev.version)])
		}
	}
	slices.SortFunc(evs, func(x, y serveEvent) int {
		return cmp.Or(x.at.Compare(y.at), strings.Compare(x.aggregate, y.aggregate), cmp.Compare(x.version, y.version))
	})
	for _, ev := range evs {
		a.Events = append(a.Events, payments.TimelineEvent{EventID: ev.id, AggregateID: ev.aggregate, OrganizationID: ev.org,
			Type: ev.typ, Version: ev.version, Timestamp: fmtTime(ev.at)})
	}
	return a, len(evs) > 0
}

// correlations lists the correlation ids with at least min events whose
// organizations are exactly orgs (any when orgs is nil), sorted.
func (s *serveExpect) correlations(minEvents int, orgs ...string) []string {
	byCorr := map[string][]string{}
	n := map[string]int{}
	for _, ev := range s.x.events {
		n[ev.corr]++
		if !slices.Contains(byCorr[ev.corr], ev.org) {
			byCorr[ev.corr] = append(byCorr[ev.corr], ev.org)
		}
	}
	var out []string
	for c, os := range byCorr {
		slices.Sort(os)
		if n[c] >= minEvents && (orgs == nil || slices.Equal(os, orgs)) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}
