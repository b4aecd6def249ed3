package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/topology"
)

// PostgresReader reads the postgres sink's payments table (README "Read
// sources"; written by sinks/postgres with payment.Table): by id, search,
// statistics and analytics, each in one statement (one snapshot). Every
// call takes ctx; an unreachable database or a missing table is an error
// the router treats as a failure of the source.
type PostgresReader struct {
	pool     *pgxpool.Pool
	names    topology.Names
	payments string // the table, schema-qualified and quoted
	offsets  string // sink_offsets, schema-qualified and quoted
}

var _ PostgresSource = (*PostgresReader)(nil)

// NewPostgresReader reads schema (names.PostgresSchema()) through pool.
// names is the payments aggregate's: Applied accepts tokens of its events
// topic only.
func NewPostgresReader(pool *pgxpool.Pool, schema string, names topology.Names) *PostgresReader {
	return &PostgresReader{pool: pool, names: names,
		payments: pgx.Identifier{schema, "payments"}.Sanitize(),
		offsets:  pgx.Identifier{schema, "sink_offsets"}.Sanitize()}
}

// paymentColumns are the payments table's columns in scanPayment's order.
const paymentColumns = `id, organization_id, user_id, amount_minor, currency, description, status, created_at, updated_at, version`

// paymentRow is one row of the payments table as scanned.
type paymentRow struct {
	id, org, user, currency, description, status string
	amountMinor, version                         int64
	createdAt, updatedAt                         time.Time
}

func (r *paymentRow) targets() []any {
	return []any{&r.id, &r.org, &r.user, &r.amountMinor, &r.currency, &r.description, &r.status,
		&r.createdAt, &r.updatedAt, &r.version}
}

// payment is r in an answer.
func (r *paymentRow) payment() (Payment, error) {
	amount, err := money.Format(r.amountMinor, r.currency)
	if err != nil {
		return Payment{}, fmt.Errorf("payment %s: %w", r.id, err)
	}
	return Payment{ID: r.id, OrganizationID: r.org, UserID: r.user, Amount: amount, AmountMinor: r.amountMinor,
		Currency: r.currency, Description: r.description, Status: r.status,
		CreatedAt: FormatTime(r.createdAt), UpdatedAt: FormatTime(r.updatedAt), Version: r.version}, nil
}

// ByID reads one payment; an unknown id (or a deleted one: the sink removes
// its row) is queries.ErrNotFound.
func (r *PostgresReader) ByID(ctx context.Context, id string) (Payment, error) {
	var row paymentRow
	err := r.pool.QueryRow(ctx, `SELECT `+paymentColumns+` FROM `+r.payments+` WHERE id = $1`, id).Scan(row.targets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, queries.ErrNotFound
	}
	if err != nil {
		return Payment{}, fmt.Errorf("postgres: read payment: %w", err)
	}
	return row.payment()
}

// args numbers the bind parameters of a statement.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// searchFilter is the WHERE condition of a search within scope, or ok
// false when nothing can match (an organization outside the scope, or an
// amount range no currency's minor units fit). User text only ever enters
// as bind parameters.
func searchFilter(scope queries.Scope, p SearchParams, a *args) (string, bool) {
	var conds []string
	switch {
	case p.OrganizationID != "":
		if !inScope(scope, p.OrganizationID) {
			return "", false
		}
		conds = append(conds, `organization_id = `+a.add(p.OrganizationID))
	case scope.All():
	case len(scope.Orgs()) > 0:
		conds = append(conds, `organization_id = ANY(`+a.add(scope.Orgs())+`::text[])`)
	default: // a zero Scope holds nothing
		return "", false
	}
	if p.Status != "" {
		conds = append(conds, `status = `+a.add(p.Status))
	}
	if p.Currency != "" {
		conds = append(conds, `currency = `+a.add(p.Currency))
	}
	if p.HasAmountRange() {
		classes := p.CurrencyDigits()
		digits := make([]int, 0, len(classes))
		for d := range classes {
			digits = append(digits, d)
		}
		slices.Sort(digits)
		var ors []string
		for _, d := range digits {
			lo, hi, ok := p.AmountRange(d)
			if !ok {
				continue
			}
			ors = append(ors, `(currency = ANY(`+a.add(classes[d])+`::text[]) AND amount_minor BETWEEN `+
				a.add(lo)+` AND `+a.add(hi)+`)`)
		}
		if len(ors) == 0 {
			return "", false
		}
		conds = append(conds, `(`+strings.Join(ors, ` OR `)+`)`)
	}
	for _, w := range p.Words {
		conds = append(conds, `lower(description) ~ `+a.add(WordPattern(w)))
	}
	if len(conds) == 0 {
		return "TRUE", true
	}
	return strings.Join(conds, ` AND `), true
}

// WordPattern is the Postgres regular expression (ARE) matching w as a
// whole word of a lower-cased description: w, lower-cased, with every
// character that is not a letter or digit backslash-escaped, between the
// text's ends or characters that are not [[:alnum:]]. Words are runs of
// letters and digits (Words), so a description matches exactly when w is
// one of Words(description) (with a UTF-8 database whose locale classifies
// and lower-cases Unicode letters, as C.UTF-8 and en_US.UTF-8 do; not the
// "C" locale, where only ASCII letters are alnum).
func WordPattern(w string) string {
	var b strings.Builder
	b.WriteString(`(^|[^[:alnum:]])`)
	for _, r := range strings.ToLower(w) {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteString(`($|[^[:alnum:]])`)
	return b.String()
}

// searchOrder is the ORDER BY of p: the sort field in p.Order, then id
// ascending, both in byte order (COLLATE "C", as Elasticsearch's keyword
// sorts). Amounts sort by value: minor units scaled to 3 decimals by the
// currency's digits (Elasticsearch's scaled_float amount, factor 1000).
func searchOrder(p SearchParams, a *args) string {
	dir := "ASC"
	if p.Order == "desc" {
		dir = "DESC"
	}
	var key string
	switch p.Sort {
	case SortAmount:
		classes := SearchParams{}.CurrencyDigits()
		digits := make([]int, 0, len(classes))
		for d := range classes {
			digits = append(digits, d)
		}
		slices.Sort(digits)
		var whens []string
		for _, d := range digits {
			if d >= 3 {
				continue
			}
			whens = append(whens, `WHEN currency = ANY(`+a.add(classes[d])+`::text[]) THEN `+strconv.Itoa(pow10(3-d)))
		}
		key = `amount_minor::numeric * CASE ` + strings.Join(whens, ` `) + ` ELSE 1 END`
	case SortStatus:
		key = `status COLLATE "C"`
	default:
		key = `created_at`
	}
	return key + ` ` + dir + `, id COLLATE "C" ASC`
}

func pow10(n int) int {
	v := 1
	for range n {
		v *= 10
	}
	return v
}

// Search runs p within scope: the page of matches and their total, from
// one statement (the count and the page see the same snapshot).
func (r *PostgresReader) Search(ctx context.Context, scope queries.Scope, p SearchParams) (SearchAnswer, error) {
	if p.Page < 1 || p.Size < 1 {
		return SearchAnswer{}, queries.BadParam("page", "page %d, size %d: both must be at least 1", p.Page, p.Size)
	}
	ans := SearchAnswer{Items: []Payment{}, Page: p.Page, Size: p.Size}
	var a args
	where, ok := searchFilter(scope, p, &a)
	if !ok {
		return ans, nil
	}
	order := searchOrder(p, &a)
	limit, offset := a.add(p.Size), a.add((p.Page-1)*p.Size)
	sql := `SELECT t.total, m.* FROM (SELECT count(*) AS total FROM ` + r.payments + ` WHERE ` + where + `) AS t
		LEFT JOIN LATERAL (SELECT ` + paymentColumns + ` FROM ` + r.payments + ` WHERE ` + where + `
			ORDER BY ` + order + ` LIMIT ` + limit + ` OFFSET ` + offset + `) AS m ON TRUE`
	rows, err := r.pool.Query(ctx, sql, a...)
	if err != nil {
		return SearchAnswer{}, fmt.Errorf("postgres: search payments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, org, user, currency, description, status *string
			amountMinor, version                         *int64
			createdAt, updatedAt                         *time.Time
		)
		if err := rows.Scan(&ans.Total, &id, &org, &user, &amountMinor, &currency, &description, &status,
			&createdAt, &updatedAt, &version); err != nil {
			return SearchAnswer{}, fmt.Errorf("postgres: search payments: %w", err)
		}
		if id == nil { // the page is past the last match
			continue
		}
		row := paymentRow{id: *id, org: *org, user: *user, amountMinor: *amountMinor, currency: *currency,
			description: *description, status: *status, createdAt: *createdAt, updatedAt: *updatedAt, version: *version}
		pay, err := row.payment()
		if err != nil {
			return SearchAnswer{}, fmt.Errorf("postgres: search payments: %w", err)
		}
		ans.Items = append(ans.Items, pay)
	}
	if err := rows.Err(); err != nil {
		return SearchAnswer{}, fmt.Errorf("postgres: search payments: %w", err)
	}
	return ans, nil
}

// Statistics counts org's live payments per status and currency (a GROUP
// BY over payments; the read models' payment_summary is the first choice).
func (r *PostgresReader) Statistics(ctx context.Context, org string) (StatisticsAnswer, error) {
	rows, err := r.pool.Query(ctx, `SELECT status, currency, count(*), sum(amount_minor)::bigint FROM `+r.payments+`
		WHERE organization_id = $1 GROUP BY status, currency`, org)
	if err != nil {
		return StatisticsAnswer{}, fmt.Errorf("postgres: statistics of %s: %w", org, err)
	}
	groups, err := collectGroups(rows)
	if err != nil {
		return StatisticsAnswer{}, fmt.Errorf("postgres: statistics of %s: %w", org, err)
	}
	return statistics(org, groups), nil
}

// group is a count and sum of minor units of one status and currency.
type group struct {
	status, currency string
	count, minor     int64
}

func collectGroups(rows pgx.Rows) ([]group, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (group, error) {
		var g group
		err := row.Scan(&g.status, &g.currency, &g.count, &g.minor)
		return g, err
	})
}

// statistics builds the answer from groups (any order; empty ones are
// dropped): sorted by status, then currency, in byte order.
func statistics(org string, groups []group) StatisticsAnswer {
	ans := StatisticsAnswer{OrganizationID: org, ByStatus: []StatusTotal{}}
	for _, g := range groups {
		if g.count <= 0 {
			continue
		}
		ans.Count += g.count
		ans.ByStatus = append(ans.ByStatus, StatusTotal{Status: g.status, Total: NewTotal(g.currency, g.count, g.minor)})
	}
	sortStatusTotals(ans.ByStatus)
	return ans
}

func sortStatusTotals(s []StatusTotal) {
	slices.SortFunc(s, func(a, b StatusTotal) int {
		if c := strings.Compare(a.Status, b.Status); c != 0 {
			return c
		}
		return strings.Compare(a.Currency, b.Currency)
	})
}

// Analytics describes org's live payments created in [p.From, p.To) from
// one GROUP BY (bucket, status, currency) over payments, the buckets being
// date_trunc(p.Interval) of created_at in UTC (week: ISO, from Monday).
func (r *PostgresReader) Analytics(ctx context.Context, p AnalyticsParams) (AnalyticsAnswer, error) {
	if !slices.Contains(Intervals, p.Interval) {
		return AnalyticsAnswer{}, queries.BadParam("interval", "%q is not day, week or month", p.Interval)
	}
	rows, err := r.pool.Query(ctx, `SELECT date_trunc($2, created_at AT TIME ZONE 'UTC') AS bucket, status, currency,
		count(*), sum(amount_minor)::bigint FROM `+r.payments+`
		WHERE organization_id = $1 AND created_at >= $3 AND created_at < $4
		GROUP BY bucket, status, currency`, p.OrganizationID, p.Interval, p.From, p.To)
	if err != nil {
		return AnalyticsAnswer{}, fmt.Errorf("postgres: analytics of %s: %w", p.OrganizationID, err)
	}
	type cell struct {
		bucket time.Time
		group
	}
	cells, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (cell, error) {
		var c cell
		err := row.Scan(&c.bucket, &c.status, &c.currency, &c.count, &c.minor)
		return c, err
	})
	if err != nil {
		return AnalyticsAnswer{}, fmt.Errorf("postgres: analytics of %s: %w", p.OrganizationID, err)
	}
	type key struct{ status, currency string }
	type sum struct{ count, minor int64 }
	add := func(m map[string]sum, c cell) {
		s := m[c.currency]
		m[c.currency] = sum{s.count + c.count, s.minor + c.minor}
	}
	buckets := map[time.Time]map[string]sum{}
	byStatus := map[key]sum{}
	created, captured, refunded := map[string]sum{}, map[string]sum{}, map[string]sum{}
	ans := AnalyticsAnswer{OrganizationID: p.OrganizationID, From: FormatTime(p.From), To: FormatTime(p.To),
		Interval: p.Interval, Buckets: []Bucket{}, ByStatus: []StatusTotal{}}
	for _, c := range cells {
		ans.Count += c.count
		start := time.Date(c.bucket.Year(), c.bucket.Month(), c.bucket.Day(), 0, 0, 0, 0, time.UTC)
		if buckets[start] == nil {
			buckets[start] = map[string]sum{}
		}
		add(buckets[start], c)
		k := key{c.status, c.currency}
		byStatus[k] = sum{byStatus[k].count + c.count, byStatus[k].minor + c.minor}
		add(created, c)
		if c.status == "CAPTURED" || c.status == "REFUNDED" {
			add(captured, c)
		}
		if c.status == "REFUNDED" {
			add(refunded, c)
		}
	}
	totals := func(m map[string]sum) []Total {
		out := make([]Total, 0, len(m))
		for cur, s := range m {
			out = append(out, NewTotal(cur, s.count, s.minor))
		}
		slices.SortFunc(out, func(a, b Total) int { return strings.Compare(a.Currency, b.Currency) })
		return out
	}
	starts := make([]time.Time, 0, len(buckets))
	for t := range buckets {
		starts = append(starts, t)
	}
	slices.SortFunc(starts, time.Time.Compare)
	for _, t := range starts {
		b := Bucket{Start: FormatTime(t), ByCurrency: totals(buckets[t])}
		for _, tot := range b.ByCurrency {
			b.Count += tot.Count
		}
		ans.Buckets = append(ans.Buckets, b)
	}
	for k, s := range byStatus {
		ans.ByStatus = append(ans.ByStatus, StatusTotal{Status: k.status, Total: NewTotal(k.currency, s.count, s.minor)})
	}
	sortStatusTotals(ans.ByStatus)
	ans.Created, ans.Captured, ans.Refunded = totals(created), totals(captured), totals(refunded)
	return ans, nil
}

// Applied is the postgres sink's next offset on the token's partition
// (sink_offsets, sink 'postgres'; 0 before its first commit there).
func (r *PostgresReader) Applied(ctx context.Context, t queries.Token) (int64, error) {
	return appliedOffset(ctx, r.pool, r.offsets, "postgres", r.names, t)
}

// appliedOffset reads sink's next offset on t's partition from offsets.
// A token of another topic than names' events topic is an error.
func appliedOffset(ctx context.Context, pool *pgxpool.Pool, offsets, sink string, names topology.Names, t queries.Token) (int64, error) {
	if names.Plural != "" && t.Topic != names.EventsTopic() {
		return 0, fmt.Errorf("%s: consistency token of topic %q, not %q", sink, t.Topic, names.EventsTopic())
	}
	var next int64
	err := pool.QueryRow(ctx, `SELECT next_offset FROM `+offsets+` WHERE sink = $1 AND topic = $2 AND partition = $3`,
		sink, t.Topic, t.Partition).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: read offset of %s[%d]: %w", sink, t.Topic, t.Partition, err)
	}
	return next, nil
}
