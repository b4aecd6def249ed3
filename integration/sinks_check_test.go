package integration

import (
	"context"
	"fmt"

	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// checkPostgresSink lists how the payments table differs from x.
func (e *sinkEnv) checkPostgresSink(ctx context.Context, x sinkExpect) []string {
	got, err := payment.ReadPayments(ctx, e.pool, e.schema)
	if err != nil {
		return []string{err.Error()}
	}
	// created_at/updated_at are stamped by the processor at processing time.
	return sinktest.DiffPayments(x.live(), got, 10, sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt)
}

// checkReadModels lists how the read models differ from figures computed
// from x: states, summary, timeline (accepted events, each once) and daily
// totals (the day is the processing day, so totals per organization and
// currency are compared over the run's days, and every row's day must be
// one of them).
func (e *sinkEnv) checkReadModels(ctx context.Context, x sinkExpect, from time.Time) []string {
	var diffs []string
	live := x.live()
	states, err := payment.ReadStates(ctx, e.pool, e.schema)
	if err != nil {
		return []string{err.Error()}
	}
	diffs = append(diffs, sinktest.DiffPayments(live, states, 5, sinktest.FieldUserID, sinktest.FieldDescription,
		sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt)...)

	type agg struct{ n, sum int64 }
	wantSum := map[string]*agg{}
	for _, p := range live {
		k := p.OrganizationID + "/" + string(p.Status) + "/" + p.Currency
		if wantSum[k] == nil {
			wantSum[k] = &agg{}
		}
		wantSum[k].n++
		wantSum[k].sum += p.AmountMinor
	}
	rows, err := payment.ReadSummary(ctx, e.pool, e.schema)
	if err != nil {
		return append(diffs, err.Error())
	}
	gotSum := map[string]*agg{}
	for _, r := range rows {
		if r.Count != 0 || r.TotalAmountMinor != 0 {
			gotSum[r.OrganizationID+"/"+r.Status+"/"+r.Currency] = &agg{r.Count, r.TotalAmountMinor}
		}
	}
	for k, w := range wantSum {
		if g := gotSum[k]; g == nil || *g != *w {
			diffs = append(diffs, fmt.Sprintf("summary %s: want count=%d total=%d, got %+v", k, w.n, w.sum, g))
		}
	}
	for k, g := range gotSum {
		if wantSum[k] == nil {
			diffs = append(diffs, fmt.Sprintf("summary %s: unexpected count=%d total=%d", k, g.n, g.sum))
		}
	}

	tl, err := payment.ReadTimeline(ctx, e.pool, e.schema)
	if err != nil {
		return append(diffs, err.Error())
	}
	count := map[string]int{}
	for _, ev := range x.events {
		count[fmt.Sprintf("%s v%d %s", ev.aggregate, ev.version, ev.typ)]++
	}
	for _, r := range tl {
		count[fmt.Sprintf("%s v%d %s", r.AggregateID, r.Version, r.Type)]--
	}
	var tlDiff []string
	for k, n := range count {
		if n > 0 {
			tlDiff = append(tlDiff, "timeline missing: "+k)
		} else if n < 0 {
			tlDiff = append(tlDiff, fmt.Sprintf("timeline has %d extra: %s", -n, k))
		}
	}
	sort.Strings(tlDiff)
	if len(tlDiff) > 0 {
		diffs = append(diffs, fmt.Sprintf("timeline: %d rows, %d expected events", len(tl), len(x.events)))
		diffs = append(diffs, tlDiff[:min(len(tlDiff), 5)]...)
	}

	type daily struct{ cc, ca, cap, ref int64 }
	wantDaily := map[string]*daily{}
	get := func(m map[string]*daily, k string) *daily {
		if m[k] == nil {
			m[k] = &daily{}
		}
		return m[k]
	}
	for _, ev := range x.events {
		k := ev.org + "/" + ev.currency
		switch {
		case ev.typ == schemas.TypePaymentCreated:
			d := get(wantDaily, k)
			d.cc++
			d.ca += ev.amount
		case ev.to == schemas.StatusCaptured:
			get(wantDaily, k).cap += ev.amount
		case ev.to == schemas.StatusRefunded:
			get(wantDaily, k).ref += ev.amount
		}
	}
	drows, err := payment.ReadDaily(ctx, e.pool, e.schema)
	if err != nil {
		return append(diffs, err.Error())
	}
	gotDaily := map[string]*daily{}
	first := from.UTC().Truncate(24 * time.Hour)
	for _, r := range drows {
		if r.Day.Before(first) || r.Day.After(time.Now().UTC()) {
			diffs = append(diffs, fmt.Sprintf("daily row for %s outside the run", r.Day.Format("2006-01-02")))
		}
		d := get(gotDaily, r.OrganizationID+"/"+r.Currency)
		d.cc += r.CreatedCount
		d.ca += r.CreatedAmount
		d.cap += r.CapturedAmount
		d.ref += r.RefundedAmount
	}
	for k, w := range wantDaily {
		if g := gotDaily[k]; g == nil || *g != *w {
			diffs = append(diffs, fmt.Sprintf("daily %s: want %+v, got %+v", k, *w, g))
		}
	}
	for k := range gotDaily {
		if wantDaily[k] == nil {
			diffs = append(diffs, "daily: unexpected "+k)
		}
	}
	return diffs
}

// waitEqual polls check until it reports no difference twice, 3 s apart
// (so a late duplicate would show), or fails after timeout with the last
// differences.
func (e *sinkEnv) waitEqual(what string, timeout time.Duration, check func(ctx context.Context) []string) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	ctx := context.Background()
	var last []string
	for time.Now().Before(deadline) {
		last = check(ctx)
		if len(last) == 0 {
			time.Sleep(3 * time.Second)
			if last = check(ctx); len(last) == 0 {
				return
			}
		}
		time.Sleep(time.Second)
	}
	e.t.Fatalf("%s never matched the expectation within %s:\n  %s", what, timeout, strings.Join(last, "\n  "))
}

// waitZeroLag waits until every partition of the events topic has its
// group offset at the end offset for each group (what `prism lag` shows as
// 0): the sinks commit past the processor's transaction markers.
func (e *sinkEnv) waitZeroLag(groups ...string) {
	e.t.Helper()
	adm := kadm.NewClient(e.cl)
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		lags, err := adm.Lag(context.Background(), groups...)
		last = ""
		if err != nil {
			last = err.Error()
		}
		for _, g := range groups {
			gl, ok := lags[g]
			if !ok {
				last += " no lag for " + g
				continue
			}
			if gl.Error() != nil {
				last += fmt.Sprintf(" %s: %v", g, gl.Error())
			}
			if total := gl.Lag.TotalByTopic()[e.names.EventsTopic()]; total.Lag != 0 {
				last += fmt.Sprintf(" %s: lag %d", g, total.Lag)
			}
		}
		if last == "" {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	e.t.Errorf("sink groups never reached lag 0:%s", last)
}
