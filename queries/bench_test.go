package queries

import (
	"context"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// BenchmarkAskL1Hit is the hot path of a cached query: metrics, key, L1.
func BenchmarkAskL1Hit(b *testing.B) {
	c, err := NewCache(CacheConfig{Namespace: "ns", Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}),
		Policies: map[string]Policy{"t.byId": {}}})
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	bus := NewBus(m.Middleware(), c.Middleware())
	if err := bus.Register("t.byId", func(ctx context.Context, q Query) (Answer, error) {
		return Answer{JSON: []byte(`{"id":"p-1"}`), Source: "redis"}, nil
	}); err != nil {
		b.Fatal(err)
	}
	s, _ := Organizations("org-a")
	q, _ := NewQuery("t.byId", url.Values{"id": {"p-1"}}, s)
	ctx := context.Background()
	if _, err := bus.Ask(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if a, err := bus.Ask(ctx, q); err != nil || a.Cache != L1 {
				b.Fatalf("%+v %v", a, err)
			}
		}
	})
}
