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
	for _, size := range []int{queries.DefaultL1Size, queries.DefaultL1Size / 10} {
		b.Run(fmt.Sprintf("l1=%d", size), func(b *testing.B) {
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
			cache, err := queries.NewCache(queries.CacheConfig{Namespace: f.ns, Redis: f.rdb, L1Size: size,
				Policies: set.Policies(), Logger: log})
			if err != nil {
				b.Fatal(err)
			}
			bus := queries.NewBus(cache.Middleware())
			if err := set.Register(bus); err != nil {
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

			type tally struct{ hits, warmHits, warm int }
			tallies := make([]tally, zipfWorkers)
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
					t := &tallies[w]
					for i := range per {
						k := z.Uint64()
						seen[w][k] = true
						a, err := bus.Ask(ctx, qs[k])
						if err != nil {
							errs <- fmt.Errorf("%s: %w", f.zipf[k], err)
							return
						}
						hit := a.Cache == queries.L1
						if hit {
							t.hits++
						}
						if i >= per/2 {
							t.warm++
							if hit {
								t.warmHits++
							}
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			var sum tally
			for _, t := range tallies {
				sum.hits, sum.warmHits, sum.warm = sum.hits+t.hits, sum.warmHits+t.warmHits, sum.warm+t.warm
			}
			distinct := 0
			for k := range qs {
				for w := range zipfWorkers {
					if seen[w][k] {
						distinct++
						break
					}
				}
			}
			total := per * zipfWorkers
			b.ReportMetric(float64(sum.hits)/float64(total), "hit_rate")
			b.ReportMetric(float64(sum.warmHits)/float64(sum.warm), "hit_rate_warm")
			b.ReportMetric(1-float64(distinct)/float64(total), "hit_rate_bound")
			b.ReportMetric(float64(total)/elapsed.Seconds(), "queries/s")
			b.ReportMetric(0, "ns/op")
			b.Logf("L1 size %d: %d requests, %d distinct ids, %d L1 hits, in %s", size, total, distinct, sum.hits, elapsed.Round(time.Millisecond))
		})
	}
}
