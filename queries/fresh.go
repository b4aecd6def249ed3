package queries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// firstShare is the part of a token wait given to the route's first
// candidate alone before every candidate is polled.
const firstShare = 0.75

// routeFresh answers a query carrying a consistency token from a step
// that has applied it: Applied reports a next offset above the token's.
// Steps without Applied cannot prove it and are left out; the others
// (candidates) keep the route's order, usable sources (see Route) first.
//
// The wait W (q.Consistency.Wait, else ConsistencyWait) is spread so the
// first choice is preferred yet a lagging one does not cost the answer:
//
//  1. the first candidate alone is polled every PollInterval for 3/4 of W
//     (all of W when it is the only candidate);
//  2. then every candidate still in the race is asked once, in order (a
//     fallback already there answers at once), and, until W passed, again
//     every PollInterval.
//
// A candidate that applied the token is read (its breaker bypassed: the
// source just answered Applied); a read that fails, an Applied that fails
// (each bounded by the source's timeout, not counted by the breaker), or
// ErrNotFound on a FallThroughOnNotFound step when another candidate
// remains, drops it from the race. When W passed with a candidate that
// never applied the token, the error wraps ErrNotApplied; when every
// candidate failed, it is a failure like Route's. Overall time: W plus at
// most one Applied call and the reads.
func (r *Router) routeFresh(ctx context.Context, q Query, steps []Step) (Answer, error) {
	tok := *q.Consistency.Token
	wait := q.Consistency.Wait
	if wait <= 0 {
		wait = r.cfg.ConsistencyWait
	}
	var cands []int
	for i, st := range steps {
		if st.Applied != nil {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return Answer{}, fmt.Errorf("query %s: no source of its route can prove it applied a write: %w", q.Type, ErrNotApplied)
	}
	usable := make(map[int]bool, len(cands))
	for _, c := range cands {
		usable[c] = r.source(steps[c].Source).usable()
	}
	slices.SortStableFunc(cands, func(a, b int) int {
		switch {
		case usable[a] == usable[b]:
			return 0
		case usable[a]:
			return -1
		}
		return 1
	})

	start := time.Now()
	deadline := start.Add(wait)
	firstUntil := deadline
	if len(cands) > 1 {
		firstUntil = start.Add(time.Duration(float64(wait) * firstShare))
	}
	f := freshRace{r: r, q: q, steps: steps, tok: tok, left: len(cands), out: map[int]bool{}}
	// Phase 1: the first candidate alone.
	for !f.out[cands[0]] {
		if a, err, ok := f.try(ctx, cands[0]); ok {
			return a, err
		}
		if f.out[cands[0]] || !time.Now().Before(firstUntil) {
			break
		}
		if err := sleepCtx(ctx, min(r.cfg.PollInterval, time.Until(firstUntil))); err != nil {
			return Answer{}, fmt.Errorf("query %s: %w", q.Type, err)
		}
	}
	// Phase 2: every candidate still in the race, in order.
	for f.left > 0 {
		for _, c := range cands {
			if f.out[c] {
				continue
			}
			if a, err, ok := f.try(ctx, c); ok {
				return a, err
			}
		}
		if f.left == 0 || !time.Now().Before(deadline) {
			break
		}
		if err := sleepCtx(ctx, min(r.cfg.PollInterval, time.Until(deadline))); err != nil {
			return Answer{}, fmt.Errorf("query %s: %w", q.Type, err)
		}
	}
	if f.left > 0 {
		return Answer{}, fmt.Errorf("query %s: token %s:%d:%d not applied within %s: %w",
			q.Type, tok.Topic, tok.Partition, tok.Offset, wait, ErrNotApplied)
	}
	return Answer{}, fmt.Errorf("query %s: every source failed: %w", q.Type, errors.Join(f.errs...))
}

// freshRace is one token wait's state: the candidates dropped (out), how
// many remain, the errors that dropped them.
type freshRace struct {
	r     *Router
	q     Query
	steps []Step
	tok   Token
	out   map[int]bool
	left  int
	errs  []error
}

func (f *freshRace) drop(i int, err error) {
	f.out[i] = true
	f.left--
	f.errs = append(f.errs, fmt.Errorf("%s: %w", f.steps[i].Source, err))
}

// try asks step i whether it applied the token and, when it did, reads
// it. ok reports that (a, err) is the query's result.
func (f *freshRace) try(ctx context.Context, i int) (a Answer, err error, ok bool) {
	st := f.steps[i]
	src := f.r.source(st.Source)
	actx, cancel := context.WithTimeout(ctx, src.timeout)
	next, aerr := st.Applied(actx, f.tok)
	cancel()
	switch {
	case ctx.Err() != nil:
		return Answer{}, fmt.Errorf("query %s: %w", f.q.Type, ctx.Err()), true
	case aerr != nil:
		f.drop(i, fmt.Errorf("progress: %w", aerr))
		return Answer{}, nil, false
	case next <= f.tok.Offset:
		return Answer{}, nil, false
	}
	a, err = f.r.read(ctx, src, st, true)
	switch {
	case err == nil:
		return f.r.answered(f.q, f.steps, i, a), nil, true
	case errors.Is(err, ErrNotFound) && st.FallThroughOnNotFound && f.left > 1:
		f.drop(i, err)
		return Answer{}, nil, false
	case errors.Is(err, ErrNotFound):
		f.r.answered(f.q, f.steps, i, Answer{})
		return Answer{}, err, true
	case isParamError(err):
		return Answer{}, err, true
	case ctx.Err() != nil:
		return Answer{}, fmt.Errorf("query %s: %w", f.q.Type, ctx.Err()), true
	}
	f.drop(i, err)
	return Answer{}, nil, false
}

// sleepCtx waits d or until ctx ends (its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
