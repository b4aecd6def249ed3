package payments

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/queries"
)

// Search limits: pages of at most MaxPageSize items, and no item beyond
// MaxResultWindow (Elasticsearch's index.max_result_window; Postgres obeys
// the same bound so both sources take the same parameters).
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	MaxResultWindow = 10_000
	maxQueryLength  = 200
	maxAmountDigits = 15 // integer digits of minAmount/maxAmount
)

// Statuses are the payment statuses, in the order answers sort them.
var Statuses = []string{"AUTHORIZED", "CANCELLED", "CAPTURED", "FAILED", "PENDING", "REFUNDED"}

// Sort fields and orders.
const (
	SortAmount    = "amount"
	SortCreatedAt = "createdAt"
	SortStatus    = "status"
)

// SearchParams is a normalized search. Every source applies the same
// meaning (docs/queries.md "Search"): all filters together; results sorted
// by Sort in Order, ties by id ascending (byte order); Page counts from 1.
type SearchParams struct {
	OrganizationID string // "": every organization of the caller's scope
	Status         string // "": any
	Currency       string // "": any
	// MinAmount and MaxAmount are canonical decimal strings ("" = no
	// bound): a payment matches when its amount, as a decimal, is within
	// them. Use AmountRange for the bounds in minor units.
	MinAmount, MaxAmount string
	// Words are the lower-case words of q (runs of letters and digits): a
	// payment matches when each is a word of its description. Nil: no text
	// filter.
	Words       []string
	Sort, Order string
	Page, Size  int
}

// AmountRange returns the bounds in minor units of a currency with the
// given decimals: lo = ceil(MinAmount·10^d), hi = floor(MaxAmount·10^d)
// (0 and math.MaxInt64 when unbounded). ok is false when nothing fits
// (lo > hi).
func (p SearchParams) AmountRange(digits int) (lo, hi int64, ok bool) {
	lo, hi = 0, math.MaxInt64
	if p.MinAmount != "" {
		lo = scaleDecimal(p.MinAmount, digits, true)
	}
	if p.MaxAmount != "" {
		hi = scaleDecimal(p.MaxAmount, digits, false)
	}
	return lo, hi, lo <= hi
}

// HasAmountRange reports whether an amount bound is set.
func (p SearchParams) HasAmountRange() bool { return p.MinAmount != "" || p.MaxAmount != "" }

// CurrencyDigits groups the currencies a search covers by their number of
// decimals: Currency alone when set, else every supported currency.
func (p SearchParams) CurrencyDigits() map[int][]string {
	out := map[int][]string{}
	list := money.Currencies()
	if p.Currency != "" {
		list = []string{p.Currency}
	}
	for _, c := range list {
		d, _ := money.Digits(c)
		out[d] = append(out[d], c)
	}
	return out
}

// scaleDecimal multiplies a canonical non-negative decimal by 10^digits and
// rounds up (ceil) or down.
func scaleDecimal(s string, digits int, ceil bool) int64 {
	intPart, frac, _ := strings.Cut(s, ".")
	for len(frac) < digits {
		frac += "0"
	}
	rest := frac[digits:]
	v, _ := strconv.ParseInt(intPart+frac[:digits], 10, 64)
	if ceil && strings.Trim(rest, "0") != "" {
		v++
	}
	return v
}

// Values is p's canonical form, the query's parameters.
func (p SearchParams) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("organizationId", p.OrganizationID)
	set("status", p.Status)
	set("currency", p.Currency)
	set("minAmount", p.MinAmount)
	set("maxAmount", p.MaxAmount)
	set("q", strings.Join(p.Words, " "))
	set("sort", p.Sort)
	set("order", p.Order)
	v.Set("page", strconv.Itoa(p.Page))
	v.Set("size", strconv.Itoa(p.Size))
	return v
}

// ParseSearch reads the search parameters of GET /v1/payments. Every
// parameter is optional; an unknown one, one given twice or a bad value is
// a *queries.ParamError naming it.
func ParseSearch(query url.Values) (SearchParams, error) {
	r := reader{query: query}
	if err := r.only("organizationId", "status", "currency", "minAmount", "maxAmount", "q", "sort", "order", "page", "size"); err != nil {
		return SearchParams{}, err
	}
	p := SearchParams{Sort: SortCreatedAt, Order: "desc", Page: 1, Size: DefaultPageSize}
	var err error
	if p.OrganizationID, err = r.id("organizationId", false); err != nil {
		return p, err
	}
	if s, ok, err := r.one("status"); err != nil {
		return p, err
	} else if ok {
		s = strings.ToUpper(s)
		if !slices.Contains(Statuses, s) {
			return p, queries.BadParam("status", "unknown status %q (one of %s)", s, strings.Join(Statuses, ", "))
		}
		p.Status = s
	}
	if c, ok, err := r.one("currency"); err != nil {
		return p, err
	} else if ok {
		c = strings.ToUpper(c)
		if !money.Known(c) {
			return p, queries.BadParam("currency", "unsupported currency %q", c)
		}
		p.Currency = c
	}
	if p.MinAmount, err = r.amount("minAmount"); err != nil {
		return p, err
	}
	if p.MaxAmount, err = r.amount("maxAmount"); err != nil {
		return p, err
	}
	if p.MinAmount != "" && p.MaxAmount != "" && compareDecimal(p.MinAmount, p.MaxAmount) > 0 {
		return p, queries.BadParam("minAmount", "above maxAmount")
	}
	if q, ok, err := r.one("q"); err != nil {
		return p, err
	} else if ok {
		if utf8.RuneCountInString(q) > maxQueryLength || !utf8.ValidString(q) {
			return p, queries.BadParam("q", "at most %d characters of valid UTF-8", maxQueryLength)
		}
		p.Words = Words(q)
		if len(p.Words) == 0 {
			return p, queries.BadParam("q", "no word to search for (words are letters and digits)")
		}
	}
	if s, ok, err := r.one("sort"); err != nil {
		return p, err
	} else if ok {
		if s != SortAmount && s != SortCreatedAt && s != SortStatus {
			return p, queries.BadParam("sort", "unknown sort field %q (amount, createdAt or status)", s)
		}
		p.Sort = s
	}
	if o, ok, err := r.one("order"); err != nil {
		return p, err
	} else if ok {
		if o != "asc" && o != "desc" {
			return p, queries.BadParam("order", "%q is not asc or desc", o)
		}
		p.Order = o
	}
	if p.Page, err = r.integer("page", 1, 1, MaxResultWindow); err != nil {
		return p, err
	}
	if p.Size, err = r.integer("size", DefaultPageSize, 1, MaxPageSize); err != nil {
		return p, err
	}
	if p.Page*p.Size > MaxResultWindow {
		return p, queries.BadParam("page", "page × size beyond the first %d results", MaxResultWindow)
	}
	return p, nil
}

// Words splits text into the lower-case words a search matches: runs of
// letters and digits; everything else separates words. Both sources match
// on these words (Elasticsearch's standard analyzer splits the same way for
// such text).
func Words(text string) []string {
	f := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return slices.Compact(f)
}

// AnalyticsParams is a normalized analytics query: the organization's live
// payments created in [From, To), bucketed by Interval (day, week: ISO,
// from Monday; month), UTC.
type AnalyticsParams struct {
	OrganizationID string
	From, To       time.Time // UTC, millisecond precision
	Interval       string
}

// Intervals of the analytics histogram.
var Intervals = []string{"day", "week", "month"}

// maxAnalyticsRange bounds to - from.
const maxAnalyticsRange = 3660 * 24 * time.Hour

// Values is p's canonical form.
func (p AnalyticsParams) Values() url.Values {
	return url.Values{"organizationId": {p.OrganizationID}, "from": {FormatTime(p.From)}, "to": {FormatTime(p.To)}, "interval": {p.Interval}}
}

// ParseAnalytics reads GET /v1/organizations/{org}/analytics: from and to
// as an RFC 3339 date (2026-11-01, midnight UTC) or time; defaults: to =
// the next UTC midnight after now, from = to − 30 days; interval day
// (default), week or month.
func ParseAnalytics(org string, query url.Values, now time.Time) (AnalyticsParams, error) {
	r := reader{query: query}
	if err := r.only("from", "to", "interval"); err != nil {
		return AnalyticsParams{}, err
	}
	p := AnalyticsParams{OrganizationID: org, Interval: "day"}
	p.To = now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	var err error
	if t, ok, err := r.time("to"); err != nil {
		return p, err
	} else if ok {
		p.To = t
	}
	p.From = p.To.Add(-30 * 24 * time.Hour)
	if t, ok, err := r.time("from"); err != nil {
		return p, err
	} else if ok {
		p.From = t
	}
	if !p.From.Before(p.To) {
		return p, queries.BadParam("from", "must be before to")
	}
	if p.To.Sub(p.From) > maxAnalyticsRange {
		return p, queries.BadParam("from", "range longer than 3660 days")
	}
	if s, ok, err2 := r.one("interval"); err2 != nil {
		return p, err2
	} else if ok {
		if !slices.Contains(Intervals, s) {
			return p, queries.BadParam("interval", "%q is not day, week or month", s)
		}
		p.Interval = s
	}
	return p, err
}

// ParseAnalyticsValues reads AnalyticsParams back from Values.
func ParseAnalyticsValues(v url.Values) (AnalyticsParams, error) {
	from, err1 := time.Parse(TimeLayout, v.Get("from"))
	to, err2 := time.Parse(TimeLayout, v.Get("to"))
	if err1 != nil || err2 != nil {
		return AnalyticsParams{}, queries.BadParam("from", "not normalized")
	}
	return AnalyticsParams{OrganizationID: v.Get("organizationId"), From: from, To: to, Interval: v.Get("interval")}, nil
}

// CheckID checks an id given in a path or parameter: not empty, at most
// 128 bytes of UTF-8, no control character (the processor's rule for ids).
func CheckID(param, id string) error {
	if id == "" {
		return queries.BadParam(param, "empty")
	}
	if len(id) > 128 || !utf8.ValidString(id) {
		return queries.BadParam(param, "at most 128 bytes of valid UTF-8")
	}
	for _, r := range id {
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) {
			return queries.BadParam(param, "control character")
		}
	}
	return nil
}

// NoParams refuses any URL parameter (by id, statistics, timeline).
func NoParams(query url.Values) error { return reader{query: query}.only() }

// reader reads URL parameters strictly.
type reader struct{ query url.Values }

func (r reader) only(names ...string) error {
	keys := make([]string, 0, len(r.query))
	for k := range r.query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(names, k) {
			return queries.BadParam(k, "unknown parameter")
		}
	}
	return nil
}

func (r reader) one(name string) (string, bool, error) {
	vs := r.query[name]
	switch {
	case len(vs) == 0:
		return "", false, nil
	case len(vs) > 1:
		return "", false, queries.BadParam(name, "given %d times", len(vs))
	case vs[0] == "":
		return "", false, queries.BadParam(name, "empty")
	}
	return vs[0], true, nil
}

func (r reader) id(name string, required bool) (string, error) {
	s, ok, err := r.one(name)
	if err != nil || !ok {
		if err == nil && required {
			err = queries.BadParam(name, "required")
		}
		return "", err
	}
	return s, CheckID(name, s)
}

func (r reader) integer(name string, def, lo, hi int) (int, error) {
	s, ok, err := r.one(name)
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, queries.BadParam(name, "%q is not an integer from %d to %d", s, lo, hi)
	}
	return n, nil
}

// amount reads a non-negative decimal ("100", "100.5") in canonical form:
// no leading zeros, no trailing fractional zeros.
func (r reader) amount(name string) (string, error) {
	s, ok, err := r.one(name)
	if err != nil || !ok {
		return "", err
	}
	if strings.HasPrefix(s, "-") {
		return "", queries.BadParam(name, "must not be negative")
	}
	intPart, frac, dot := strings.Cut(s, ".")
	if intPart == "" || (dot && frac == "") || !digitsOnly(intPart) || !digitsOnly(frac) {
		return "", queries.BadParam(name, "%q is not a decimal amount like 100.50", s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	frac = strings.TrimRight(frac, "0")
	if len(intPart) > maxAmountDigits || len(frac) > 3 {
		return "", queries.BadParam(name, "%q out of range (at most %d integer digits and 3 decimals)", s, maxAmountDigits)
	}
	if frac != "" {
		return intPart + "." + frac, nil
	}
	return intPart, nil
}

func (r reader) time(name string) (time.Time, bool, error) {
	s, ok, err := r.one(name)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), true, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false, queries.BadParam(name, "%q is not an RFC 3339 date (2026-11-01) or time (2026-11-01T00:00:00Z)", s)
	}
	return t.UTC().Truncate(time.Millisecond), true, nil
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareDecimal compares two canonical non-negative decimals.
func compareDecimal(a, b string) int {
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	if len(ai) != len(bi) {
		return len(ai) - len(bi)
	}
	if c := strings.Compare(ai, bi); c != 0 {
		return c
	}
	for len(af) < len(bf) {
		af += "0"
	}
	for len(bf) < len(af) {
		bf += "0"
	}
	return strings.Compare(af, bf)
}
