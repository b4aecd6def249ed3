package payments

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries"
)

// fakeByID is a by-id source holding one payment whose version a test
// can move.
type fakeByID struct {
	p       Payment
	present atomic.Bool
	version atomic.Int64
	reads   atomic.Int64
}

func (f *fakeByID) ByID(_ context.Context, id string) (Payment, error) {
	f.reads.Add(1)
	if !f.present.Load() || id != f.p.ID {
		return Payment{}, queries.ErrNotFound
	}
	p := f.p
	p.Version = f.version.Load()
	return p, nil
}

func (f *fakeByID) Applied(context.Context, queries.Token) (int64, error) { return 0, nil }

type fakePostgres struct {
	*fakeByID
	Searcher
	StatisticsReader
	AnalyticsReader
}

func newTestSet(t *testing.T, redis, pg *fakeByID) *Set {
	t.Helper()
	r, err := queries.NewRouter(queries.RouterConfig{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Router: r, Postgres: fakePostgres{fakeByID: pg}}
	if redis != nil {
		cfg.Redis = redis
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func byIDQuery(t *testing.T, id string, scope queries.Scope, c queries.Consistency) queries.Query {
	t.Helper()
	q, err := queries.NewQuery(TypeByID, url.Values{"id": {id}}, scope)
	if err != nil {
		t.Fatal(err)
	}
	q.Consistency = c
	return q
}

func newFake(org string, version int64) *fakeByID {
	f := &fakeByID{p: Payment{ID: "p-1", OrganizationID: org, Currency: "EUR", Amount: "1.00", AmountMinor: 100, Status: "PENDING"}}
	f.present.Store(true)
	f.version.Store(version)
	return f
}

func ask(t *testing.T, s *Set, q queries.Query) (Payment, queries.Answer, error) {
	t.Helper()
	a, err := s.byID(context.Background(), q)
	var p Payment
	if err == nil {
		if jerr := json.Unmarshal(a.JSON, &p); jerr != nil {
			t.Fatal(jerr)
		}
	}
	return p, a, err
}

func TestByIDRedisMissAsksPostgres(t *testing.T) {
	redis, pg := newFake("org-a", 3), newFake("org-a", 2)
	redis.present.Store(false) // expired key
	s := newTestSet(t, redis, pg)
	p, a, err := ask(t, s, byIDQuery(t, "p-1", queries.AllOrganizations(), queries.Consistency{}))
	if err != nil || a.Source != SourcePostgres || p.Version != 2 {
		t.Fatalf("got %+v from %q, %v; want version 2 from postgres", p, a.Source, err)
	}
	redis.present.Store(true)
	p, a, err = ask(t, s, byIDQuery(t, "p-1", queries.AllOrganizations(), queries.Consistency{}))
	if err != nil || a.Source != SourceRedis || p.Version != 3 {
		t.Fatalf("got %+v from %q, %v; want version 3 from redis", p, a.Source, err)
	}
	// Absent everywhere: not found.
	redis.present.Store(false)
	pg.present.Store(false)
	if _, _, err := ask(t, s, byIDQuery(t, "p-1", queries.AllOrganizations(), queries.Consistency{})); !errors.Is(err, queries.ErrNotFound) {
		t.Fatalf("absent payment: %v, want ErrNotFound", err)
	}
}

func TestByIDOfAnotherOrganizationIsNotFound(t *testing.T) {
	s := newTestSet(t, newFake("org-b", 1), newFake("org-b", 1))
	scope, _ := queries.Organizations("org-a")
	if _, _, err := ask(t, s, byIDQuery(t, "p-1", scope, queries.Consistency{})); !errors.Is(err, queries.ErrNotFound) {
		t.Fatalf("another organization's payment: %v, want ErrNotFound", err)
	}
	scope, _ = queries.Organizations("org-a", "org-b")
	if _, _, err := ask(t, s, byIDQuery(t, "p-1", scope, queries.Consistency{})); err != nil {
		t.Fatalf("own payment: %v", err)
	}
}

func TestByIDMinVersionWaitsThenConflicts(t *testing.T) {
	redis := newFake("org-a", 1)
	s := newTestSet(t, redis, newFake("org-a", 1))
	go func() {
		time.Sleep(30 * time.Millisecond)
		redis.version.Store(2)
	}()
	p, _, err := ask(t, s, byIDQuery(t, "p-1", queries.AllOrganizations(), queries.Consistency{MinVersion: 2, Wait: 2 * time.Second}))
	if err != nil || p.Version != 2 {
		t.Fatalf("wait for version 2: %+v, %v", p, err)
	}
	start := time.Now()
	_, _, err = ask(t, s, byIDQuery(t, "p-1", queries.AllOrganizations(), queries.Consistency{MinVersion: 5, Wait: 100 * time.Millisecond}))
	var ve *queries.VersionError
	if !errors.As(err, &ve) || ve.Current != 2 || ve.Want != 5 {
		t.Fatalf("version 5 never comes: %v, want VersionError{5, 2}", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the wait was not bounded: %v", d)
	}
}

func TestStatisticsOutsideScopeIsNotFound(t *testing.T) {
	s := newTestSet(t, nil, newFake("org-a", 1))
	scope, _ := queries.Organizations("org-a")
	q, err := queries.NewQuery(TypeStatistics, url.Values{"organizationId": {"org-b"}}, scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.statistics(context.Background(), q); !errors.Is(err, queries.ErrNotFound) {
		t.Fatalf("statistics of another organization: %v, want ErrNotFound", err)
	}
}
