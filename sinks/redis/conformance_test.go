package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// store is one namespace of the real Redis (testkit.RedisURL), its keys
// deleted at cleanup.
type store struct {
	url    string
	names  topology.Names
	keys   redissink.Keys
	client *goredis.Client
	cache  projections.Cache
}

func newStore(t testing.TB, plural string, cache projections.Cache) *store {
	t.Helper()
	url := testkit.RedisURL(t)
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	names := topology.NewNames(testkit.Namespace(t)).Aggregate(plural)
	s := &store{url: url, names: names, keys: redissink.NewKeys(names, cache.CacheLayout()), client: goredis.NewClient(opts), cache: cache}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if keys, err := s.scan(ctx, names.RedisPrefix()+"*"); err == nil && len(keys) > 0 {
			s.client.Unlink(ctx, keys...)
		}
		_ = s.client.Close()
	})
	return s
}

func (s *store) NewTarget(context.Context) (sinks.Target, error) {
	return redissink.NewTarget(redissink.DefaultConfig(s.url, s.names), s.cache)
}

// scan returns every key matching pattern.
func (s *store) scan(ctx context.Context, pattern string) ([]string, error) {
	var out []string
	var cursor uint64
	for {
		keys, next, err := s.client.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", pattern, err)
		}
		out = append(out, keys...)
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

// Payments reads the live payments back as a reader of the README's Redis
// layout would: SCAN <ns>:payment:*, GET each JSON document, decoded with
// the test's own type (not payment.RedisDocument), its amount string
// checked against the minor units.
func (s *store) Payments(ctx context.Context) (map[string]schemas.Payment, error) {
	keys, err := s.scan(ctx, s.keys.Doc("*"))
	if err != nil {
		return nil, err
	}
	out := map[string]schemas.Payment{}
	for _, k := range keys {
		if strings.HasSuffix(k, ":v") { // deletion markers of earlier versions
			continue
		}
		raw, err := s.client.Get(ctx, k).Result()
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", k, err)
		}
		var d struct {
			Version        int64     `json:"version"`
			ID             string    `json:"id"`
			OrganizationID string    `json:"organizationId"`
			UserID         string    `json:"userId"`
			AmountMinor    int64     `json:"amountMinor"`
			Amount         string    `json:"amount"`
			Currency       string    `json:"currency"`
			Description    string    `json:"description"`
			Status         string    `json:"status"`
			CreatedAt      time.Time `json:"createdAt"`
			UpdatedAt      time.Time `json:"updatedAt"`
		}
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if k != s.keys.Doc(d.ID) {
			return nil, fmt.Errorf("key %s holds payment %q", k, d.ID)
		}
		if want := decimal(d.AmountMinor, d.Currency); d.Amount != want {
			return nil, fmt.Errorf("%s: amount %q, want %q", k, d.Amount, want)
		}
		out[d.ID] = schemas.Payment{ID: d.ID, OrganizationID: d.OrganizationID, UserID: d.UserID, AmountMinor: d.AmountMinor,
			Currency: d.Currency, Description: d.Description, Status: schemas.PaymentStatus(d.Status),
			CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Version: d.Version}
	}
	return out, nil
}

// decimal renders minor units for the currencies of sinktest's stream
// (the test's own table, not the money package).
func decimal(minor int64, currency string) string {
	switch currency {
	case "JPY":
		return fmt.Sprint(minor)
	case "EUR", "USD":
		return fmt.Sprintf("%d.%02d", minor/100, minor%100)
	}
	return "no digits known for " + currency
}

// TestConformance runs the shared sink suite (sinks/sinktest: replays,
// overlapping batches, restarts from CommittedOffsets, stale versions at
// new offsets, deletes and tombstones, a full replay) against real Redis
// with Payment's cache projection, and after every step also checks each
// organization's recent index: exactly its live payments' ids, scored by
// createdAt in Unix ms.
func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store { return newStore(t, "payments", payment.RedisCache{}) },
		sinktest.WithCheck(func(t *testing.T, ctx context.Context, st sinktest.Store, want sinktest.Want) {
			s := st.(*store)
			wantRecent := map[string]map[string]float64{}
			for id, p := range want.Payments {
				if wantRecent[p.OrganizationID] == nil {
					wantRecent[p.OrganizationID] = map[string]float64{}
				}
				wantRecent[p.OrganizationID][id] = float64(p.CreatedAt.UnixMilli())
			}
			keys, err := s.scan(ctx, s.keys.Recent("*"))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				org := strings.TrimSuffix(strings.TrimPrefix(k, s.names.RedisPrefix()+"org:"), ":recent")
				if _, ok := wantRecent[org]; !ok {
					wantRecent[org] = map[string]float64{}
				}
			}
			for org, ids := range wantRecent {
				zs, err := s.client.ZRangeWithScores(ctx, s.keys.Recent(org), 0, -1).Result()
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]float64{}
				for _, z := range zs {
					got[z.Member.(string)] = z.Score
				}
				if !maps.Equal(got, ids) {
					t.Errorf("recent index of %s: %v, want %v", org, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(ids)))
				}
			}
		}))
}
