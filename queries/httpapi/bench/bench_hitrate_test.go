package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"
)

// Zipf load of the L1 hit-rate benchmark: zipfRequests by-id queries, ids
// drawn with P(rank k) ∝ k^-1.1 over the zipfSize payments, by
// zipfWorkers goroutines.
const (
	zipfS        = 1.1
	zipfRequests = 1_000_000
	zipfWorkers  = 32
)

// BenchmarkL1HitRateZipf asks by-id queries in process through the bus
// and queries.Cache (L2 and the source: the real Redis, whose sink keys
// hold the 100,000 payments), from a cold cache, and reports:
//
//	hit_rate        answers L1 gave, over every request
//	hit_rate_warm   the same over the second half of each worker's requests
//	hit_rate_bound  1 - distinct ids / requests: the best any cache can do
//	                from cold (every first request of an id misses)
//	queries/s       the whole run's throughput
//
// with the default L1 size (queries.DefaultL1Size) and with a tenth of it.
func BenchmarkL1HitRateZipf(b *testing.B) {
	f := env(b)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	router, err := queries.NewRouter(queries.RouterConfig{Logger: log,
		Sources: []queries.SourceConfig{{Name: payments.SourceRedis}}})
	if err != nil {
		b.Fatal(err)
	}
	set, err := payments.New(payments.Config{Router: router, Redis: payments.NewRedisReader(f.rdb, f.names)})
	if err != nil {
		b.Fatal(err)
	}
	scope, err := queries.Organizations(zipfOrg)
	if err != nil {
		b.Fatal(err)
	}
	qs := make([]queries.Query, len(f.zipf))
	for i, id := range f.zipf {
		if qs[i], err = queries.NewQuery(payments.TypeByID, url.Values{"id": {id}}, scope); err != nil {
			b.Fatal(err)
		}
	}
	for _, size := range []int{queries.DefaultL1Size, queries.DefaultL1Size / 10} {
		b.Run(fmt.Sprintf("l1=%d", size), func(b *testing.B) {
			var r zipfResult
			for b.Loop() {
				cache, err := queries.NewCache(queries.CacheConfig{Namespace: f.ns, Redis: f.rdb, L1Size: size,
					Policies: set.Policies(), Logger: log})
				if err != nil {
					b.Fatal(err)
				}
				bus := queries.NewBus(cache.Middleware())
				if err := set.Register(bus); err != nil {
					b.Fatal(err)
				}
				r = askZipf(b, bus, qs)
			}
			b.ReportMetric(float64(r.hits)/float64(r.total), "hit_rate")
			b.ReportMetric(float64(r.warmHits)/float64(r.warm), "hit_rate_warm")
			b.ReportMetric(1-float64(r.distinct)/float64(r.total), "hit_rate_bound")
			b.ReportMetric(float64(r.total)/r.elapsed.Seconds(), "queries/s")
			b.ReportMetric(0, "ns/op")
			b.Logf("L1 size %d: %d requests, %d distinct ids, %d L1 hits, in %s", size, r.total, r.distinct, r.hits, r.elapsed.Round(time.Millisecond))
		})
	}
}

// zipfResult counts one Zipf run's queries: every one, those in the
// second half of each worker's, the L1 hits among each, distinct ids.
type zipfResult struct {
	total, hits, warm, warmHits, distinct int
	elapsed                               time.Duration
}

// askZipf asks zipfRequests queries of qs, ranks Zipf-distributed, from
// zipfWorkers goroutines (each its own seeded generator).
func askZipf(b *testing.B, bus *queries.Bus, qs []queries.Query) zipfResult {
	results := make([]zipfResult, zipfWorkers)
	seen := make([][]bool, zipfWorkers)
	per := zipfRequests / zipfWorkers
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, zipfWorkers)
	start := time.Now()
	for w := range zipfWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			z := rand.NewZipf(rand.New(rand.NewPCG(uint64(w), 11)), zipfS, 1, uint64(len(qs)-1))
			seen[w] = make([]bool, len(qs))
			r := &results[w]
			for i := range per {
				k := z.Uint64()
				seen[w][k] = true
				a, err := bus.Ask(ctx, qs[k])
				if err != nil {
					errs <- fmt.Errorf("%s: %w", qs[k].Params.Get("id"), err)
					return
				}
				hit := a.Cache == queries.L1
				r.total++
				if hit {
					r.hits++
				}
				if i >= per/2 {
					r.warm++
					if hit {
						r.warmHits++
					}
				}
			}
		}()
	}
	wg.Wait()
	var sum zipfResult
	sum.elapsed = time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	for _, r := range results {
		sum.total, sum.hits, sum.warm, sum.warmHits = sum.total+r.total, sum.hits+r.hits, sum.warm+r.warm, sum.warmHits+r.warmHits
	}
	for k := range qs {
		for w := range zipfWorkers {
			if seen[w][k] {
				sum.distinct++
				break
			}
		}
	}
	return sum
}
