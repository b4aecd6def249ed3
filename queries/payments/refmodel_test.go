package payments

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/prism-cqrs/prism/queries"
)

// The reference model of the query semantics (CONTRACT / docs): what every
// source must answer for a set of live payments, computed here with plain
// Go over the rows a test stored, never by a reader. Amounts are compared
// as exact rationals, words by an own tokenizer, buckets by calendar
// arithmetic.

// refPayment is one stored payment.
type refPayment struct {
	ID, Org, User, Currency, Description, Status string
	Minor, Version                               int64
	Created, Updated                             time.Time
}

// refDigits is the number of decimals of the test's currencies (ISO 4217).
var refDigits = map[string]int{"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "CLP": 0, "KWD": 3, "BHD": 3}

// value is the payment's amount as an exact rational.
func (p refPayment) value() *big.Rat {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(refDigits[p.Currency])), nil)
	return new(big.Rat).SetFrac(big.NewInt(p.Minor), den)
}

// refDecimal writes minor units with the currency's decimals.
func refDecimal(minor int64, currency string) string {
	d := refDigits[currency]
	if d == 0 {
		return fmt.Sprint(minor)
	}
	neg := ""
	if minor < 0 {
		neg, minor = "-", -minor
	}
	s := fmt.Sprintf("%0*d", d+1, minor)
	return neg + s[:len(s)-d] + "." + s[len(s)-d:]
}

func (p refPayment) answer() Payment {
	return Payment{ID: p.ID, OrganizationID: p.Org, UserID: p.User, Amount: refDecimal(p.Minor, p.Currency),
		AmountMinor: p.Minor, Currency: p.Currency, Description: p.Description, Status: p.Status,
		CreatedAt: p.Created.UTC().Format("2006-01-02T15:04:05.000Z"), UpdatedAt: p.Updated.UTC().Format("2006-01-02T15:04:05.000Z"),
		Version: p.Version}
}

// refWords splits text into lower-case runs of letters and digits.
func refWords(text string) map[string]bool {
	out := map[string]bool{}
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out[string(cur)] = true
			cur = cur[:0]
		}
	}
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			cur = append(cur, unicode.ToLower(r))
		} else {
			flush()
		}
	}
	flush()
	return out
}

// refSearch is the model's search. The query is given as raw strings (the
// words as the user typed them) so the model does not use SearchParams'
// helpers.
type refQuery struct {
	Org, Status, Currency string
	Min, Max              string // decimal strings, "" = unbounded
	Q                     string
	Sort, Order           string
	Page, Size            int
}

func refInScope(scope queries.Scope, org string) bool {
	return scope.All() || slices.Contains(scope.Orgs(), org)
}

func refSearch(all []refPayment, scope queries.Scope, q refQuery) SearchAnswer {
	ans := SearchAnswer{Items: []Payment{}, Page: q.Page, Size: q.Size}
	rat := func(s string) *big.Rat {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			panic("bad decimal " + s)
		}
		return r
	}
	want := refWords(q.Q)
	var match []refPayment
	for _, p := range all {
		switch {
		case !refInScope(scope, p.Org),
			q.Org != "" && p.Org != q.Org,
			q.Status != "" && p.Status != q.Status,
			q.Currency != "" && p.Currency != q.Currency,
			q.Min != "" && p.value().Cmp(rat(q.Min)) < 0,
			q.Max != "" && p.value().Cmp(rat(q.Max)) > 0:
			continue
		}
		have := refWords(p.Description)
		ok := true
		for w := range want {
			ok = ok && have[w]
		}
		if ok {
			match = append(match, p)
		}
	}
	slices.SortFunc(match, func(a, b refPayment) int {
		var c int
		switch q.Sort {
		case SortAmount:
			c = a.value().Cmp(b.value())
		case SortStatus:
			c = strings.Compare(a.Status, b.Status)
		default:
			c = a.Created.Compare(b.Created)
		}
		if q.Order == "desc" {
			c = -c
		}
		return cmp.Or(c, strings.Compare(a.ID, b.ID))
	})
	ans.Total = int64(len(match))
	for i := (q.Page - 1) * q.Size; i < len(match) && i < q.Page*q.Size; i++ {
		ans.Items = append(ans.Items, match[i].answer())
	}
	return ans
}

type refKey struct{ status, currency string }

type refSum struct{ count, minor int64 }

func refTotals(m map[string]refSum) []Total {
	out := []Total{}
	for cur, s := range m {
		out = append(out, Total{Currency: cur, Count: s.count, Total: refDecimal(s.minor, cur), TotalMinor: s.minor})
	}
	slices.SortFunc(out, func(a, b Total) int { return strings.Compare(a.Currency, b.Currency) })
	return out
}

func refStatusTotals(m map[refKey]refSum) []StatusTotal {
	out := []StatusTotal{}
	for k, s := range m {
		out = append(out, StatusTotal{Status: k.status,
			Total: Total{Currency: k.currency, Count: s.count, Total: refDecimal(s.minor, k.currency), TotalMinor: s.minor}})
	}
	slices.SortFunc(out, func(a, b StatusTotal) int {
		return cmp.Or(strings.Compare(a.Status, b.Status), strings.Compare(a.Currency, b.Currency))
	})
	return out
}

func refStatistics(all []refPayment, org string) StatisticsAnswer {
	m := map[refKey]refSum{}
	var n int64
	for _, p := range all {
		if p.Org == org {
			k := refKey{p.Status, p.Currency}
			m[k] = refSum{m[k].count + 1, m[k].minor + p.Minor}
			n++
		}
	}
	return StatisticsAnswer{OrganizationID: org, Count: n, ByStatus: refStatusTotals(m)}
}

// refBucket is the first instant (UTC) of the interval holding t.
func refBucket(t time.Time, interval string) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch interval {
	case "week": // ISO weeks start on Monday
		back := (int(day.Weekday()) + 6) % 7
		return day.AddDate(0, 0, -back)
	case "month":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

func refAnalytics(all []refPayment, org string, from, to time.Time, interval string) AnalyticsAnswer {
	ans := AnalyticsAnswer{OrganizationID: org, From: from.UTC().Format("2006-01-02T15:04:05.000Z"),
		To: to.UTC().Format("2006-01-02T15:04:05.000Z"), Interval: interval, Buckets: []Bucket{}}
	buckets := map[time.Time]map[string]refSum{}
	byStatus := map[refKey]refSum{}
	created, captured, refunded := map[string]refSum{}, map[string]refSum{}, map[string]refSum{}
	add := func(m map[string]refSum, p refPayment) {
		m[p.Currency] = refSum{m[p.Currency].count + 1, m[p.Currency].minor + p.Minor}
	}
	for _, p := range all {
		if p.Org != org || p.Created.Before(from) || !p.Created.Before(to) {
			continue
		}
		ans.Count++
		b := refBucket(p.Created, interval)
		if buckets[b] == nil {
			buckets[b] = map[string]refSum{}
		}
		add(buckets[b], p)
		k := refKey{p.Status, p.Currency}
		byStatus[k] = refSum{byStatus[k].count + 1, byStatus[k].minor + p.Minor}
		add(created, p)
		if p.Status == "CAPTURED" || p.Status == "REFUNDED" {
			add(captured, p)
		}
		if p.Status == "REFUNDED" {
			add(refunded, p)
		}
	}
	var starts []time.Time
	for b := range buckets {
		starts = append(starts, b)
	}
	slices.SortFunc(starts, time.Time.Compare)
	for _, s := range starts {
		var n int64
		for _, v := range buckets[s] {
			n += v.count
		}
		ans.Buckets = append(ans.Buckets, Bucket{Start: s.Format("2006-01-02T15:04:05.000Z"), Count: n, ByCurrency: refTotals(buckets[s])})
	}
	ans.ByStatus = refStatusTotals(byStatus)
	ans.Created, ans.Captured, ans.Refunded = refTotals(created), refTotals(captured), refTotals(refunded)
	return ans
}
