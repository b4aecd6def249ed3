package queries

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func mustScope(t *testing.T, orgs ...string) Scope {
	t.Helper()
	s, err := Organizations(orgs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustQuery(t *testing.T, typ string, params url.Values, s Scope) Query {
	t.Helper()
	q, err := NewQuery(typ, params, s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestKeyLayout(t *testing.T) {
	q := mustQuery(t, "payments.search", url.Values{"status": {"CAPTURED"}}, mustScope(t, "org-a"))
	key := q.Key("ns1")
	if !regexp.MustCompile(`^ns1:q:payments\.search:org=org-a:[0-9a-f]{32}$`).MatchString(key) {
		t.Fatalf("key %q does not follow <ns>:q:<type>:org=<org>:<hash>", key)
	}
	all := mustQuery(t, "payments.search", url.Values{"status": {"CAPTURED"}}, AllOrganizations())
	if !strings.HasPrefix(all.Key("ns1"), "ns1:q:payments.search:all:") {
		t.Fatalf("all-organizations key %q", all.Key("ns1"))
	}
	many := mustQuery(t, "payments.search", nil, mustScope(t, "b", "a", "b"))
	if !regexp.MustCompile(`^ns1:q:payments\.search:orgs=[0-9a-f]{32}:[0-9a-f]{32}$`).MatchString(many.Key("ns1")) {
		t.Fatalf("several-organizations key %q", many.Key("ns1"))
	}
	if got := mustScope(t, "a", "b").Key(); got != many.Scope.Key() {
		t.Fatalf("scope key depends on order or duplicates: %s vs %s", got, many.Scope.Key())
	}
}

func TestKeyIgnoresParameterOrder(t *testing.T) {
	s := mustScope(t, "org-a")
	// Built in two orders (url.Values is a map, but ParseQuery fills it in
	// the query string's order).
	p1, _ := url.ParseQuery("status=CAPTURED&currency=EUR&size=20")
	p2, _ := url.ParseQuery("size=20&currency=EUR&status=CAPTURED")
	k1 := mustQuery(t, "payments.search", p1, s).Key("ns")
	k2 := mustQuery(t, "payments.search", p2, s).Key("ns")
	if k1 != k2 {
		t.Fatalf("parameter order changes the key: %s vs %s", k1, k2)
	}
	// A parameter without value is no parameter.
	p3, _ := url.ParseQuery("size=20&currency=EUR&status=CAPTURED")
	p3["q"] = nil
	if k3 := mustQuery(t, "payments.search", p3, s).Key("ns"); k3 != k1 {
		t.Fatalf("empty parameter changes the key: %s vs %s", k3, k1)
	}
	// A different value, another type or namespace: another key.
	p4, _ := url.ParseQuery("size=20&currency=USD&status=CAPTURED")
	for _, k := range []string{
		mustQuery(t, "payments.search", p4, s).Key("ns"),
		mustQuery(t, "payments.other", p1, s).Key("ns"),
		mustQuery(t, "payments.search", p1, s).Key("ns2"),
	} {
		if k == k1 {
			t.Fatalf("distinct queries share key %s", k)
		}
	}
	// Values cannot bleed into keys: a=b&c vs a=b%26c.
	x := mustQuery(t, "t", url.Values{"a": {"b"}, "c": {"d"}}, s).Key("ns")
	y := mustQuery(t, "t", url.Values{"a": {"b&c=d"}}, s).Key("ns")
	if x == y {
		t.Fatal("parameter values are not escaped in the hash")
	}
}

func TestScopesNeverShareKeys(t *testing.T) {
	p := url.Values{"id": {"p-1"}}
	scopes := []Scope{
		mustScope(t, "org-a"), mustScope(t, "org-b"), mustScope(t, "all"),
		mustScope(t, "org-a", "org-b"), mustScope(t, "org-a", "org-c"), AllOrganizations(),
		mustScope(t, "orgs=x"), mustScope(t, "org=all"),
	}
	seen := map[string]int{}
	for i, s := range scopes {
		k := mustQuery(t, "payments.byId", p, s).Key("ns")
		if j, ok := seen[k]; ok {
			t.Fatalf("scopes %d and %d share key %s", j, i, k)
		}
		seen[k] = i
	}
}

func TestQueryValidation(t *testing.T) {
	if _, err := Organizations(); err == nil {
		t.Fatal("empty scope accepted")
	}
	if _, err := Organizations("a", ""); err == nil {
		t.Fatal("empty organization id accepted")
	}
	if _, err := NewQuery("payments.byId", nil, Scope{}); err == nil {
		t.Fatal("unscoped query accepted")
	}
	for _, typ := range []string{"", "a:b", "a b"} {
		if _, err := NewQuery(typ, nil, AllOrganizations()); err == nil {
			t.Fatalf("query type %q accepted", typ)
		}
	}
	// NewQuery copies the parameters.
	p := url.Values{"a": {"1"}}
	q := mustQuery(t, "t", p, AllOrganizations())
	p["a"][0] = "2"
	if q.Params.Get("a") != "1" {
		t.Fatal("query shares its parameters with the caller")
	}
}

func TestBusMiddlewareOrderAndRouting(t *testing.T) {
	var trace []string
	mw := func(name string) Middleware {
		return func(next Handler) Handler {
			return func(ctx context.Context, q Query) (Answer, error) {
				trace = append(trace, name+">")
				a, err := next(ctx, q)
				trace = append(trace, "<"+name)
				return a, err
			}
		}
	}
	b := NewBus(mw("outer"), mw("inner"))
	if err := b.Register("x", func(ctx context.Context, q Query) (Answer, error) {
		trace = append(trace, "x:"+q.Params.Get("v"))
		return Answer{JSON: []byte(`"x"`), Source: "s1"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("y", func(ctx context.Context, q Query) (Answer, error) {
		return Answer{JSON: []byte(`"y"`), Source: "s2"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("x", func(ctx context.Context, q Query) (Answer, error) { return Answer{}, nil }); err == nil {
		t.Fatal("second handler for x accepted")
	}
	ctx := context.Background()
	a, err := b.Ask(ctx, mustQuery(t, "x", url.Values{"v": {"1"}}, AllOrganizations()))
	if err != nil || string(a.JSON) != `"x"` || a.Source != "s1" {
		t.Fatalf("x answered %+v, %v", a, err)
	}
	if got := strings.Join(trace, " "); got != "outer> inner> x:1 <inner <outer" {
		t.Fatalf("middleware order: %s", got)
	}
	if a, err := b.Ask(ctx, mustQuery(t, "y", nil, AllOrganizations())); err != nil || string(a.JSON) != `"y"` {
		t.Fatalf("y answered %+v, %v", a, err)
	}
	if _, err := b.Ask(ctx, mustQuery(t, "z", nil, AllOrganizations())); !errors.Is(err, ErrUnknownQuery) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := b.Ask(ctx, Query{Type: "x"}); err == nil {
		t.Fatal("unscoped query answered")
	}
}

func TestApplyInvalidation(t *testing.T) {
	c, err := NewCache(CacheConfig{Namespace: "ns", Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}),
		OrganizationFields: []string{"organizationId", "org"}})
	if err != nil {
		t.Fatal(err)
	}
	a, b, all := mustScope(t, "org-a"), mustScope(t, "org-b"), AllOrganizations()
	ab := mustScope(t, "org-a", "org-b")
	sa, sb, sall, sab := c.stamp(a), c.stamp(b), c.stamp(all), c.stamp(ab)
	// Payment's and another aggregate's changes in one message.
	c.applyInvalidation(`[{"organizationId":"org-a","paymentId":"p","version":2},{"org":"org-c","thingId":"x","version":1}]`)
	if c.stamp(a) == sa || c.stamp(ab) == sab || c.stamp(all) == sall {
		t.Fatal("org-a's change left an entry of a scope holding org-a current")
	}
	if c.stamp(b) != sb {
		t.Fatal("org-a's change dropped org-b's entries")
	}
	sb = c.stamp(b)
	c.applyInvalidation(`not json`)
	if c.stamp(b) == sb {
		t.Fatal("an unreadable message left L1 current")
	}
	sb = c.stamp(b)
	c.applyInvalidation(`[{"invoiceId":"i","version":1}]`)
	if c.stamp(b) == sb {
		t.Fatal("a change without organization left L1 current")
	}
}

func TestCacheL1OnlyAndPanics(t *testing.T) {
	// A policy without cache versions keeps answers in L1 only: Redis is
	// never asked (this client points nowhere).
	c, err := NewCache(CacheConfig{Namespace: "ns", Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}),
		Policies: map[string]Policy{"t.ok": {}, "t.panic": {}}})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBus(c.Middleware())
	calls := 0
	if err := b.Register("t.ok", func(ctx context.Context, q Query) (Answer, error) {
		calls++
		return Answer{JSON: []byte(`1`), Source: "s"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("t.panic", func(ctx context.Context, q Query) (Answer, error) {
		panic("boom")
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := mustQuery(t, "t.ok", nil, mustScope(t, "org-a"))
	for _, want := range []Level{Miss, L1} {
		if a, err := b.Ask(ctx, q); err != nil || a.Cache != want || string(a.JSON) != "1" {
			t.Fatalf("answer %+v, %v; want %s", a, err, want)
		}
	}
	c.InvalidateOrganization("org-b")
	if a, _ := b.Ask(ctx, q); a.Cache != L1 {
		t.Fatalf("org-b's invalidation dropped org-a's entry: %s", a.Cache)
	}
	c.InvalidateAll()
	if a, _ := b.Ask(ctx, q); a.Cache != Miss || calls != 2 {
		t.Fatalf("after InvalidateAll: %s, %d calls", a.Cache, calls)
	}
	if _, err := b.Ask(ctx, mustQuery(t, "t.panic", nil, mustScope(t, "org-a"))); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panicking handler: %v", err)
	}
}
