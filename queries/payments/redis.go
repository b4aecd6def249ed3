package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/queries"
	sinkredis "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/topology"
)

// RedisReader reads the documents the Redis sink keeps (README "Redis":
// <ns>:payment:<id>, payment.RedisDocument) and its stored offsets.
type RedisReader struct {
	rdb  redis.UniversalClient
	keys sinkredis.Keys
}

var _ RedisSource = (*RedisReader)(nil)

// NewRedisReader reads the keys of names (the sink's own key builder,
// sinks/redis/keys.go, with Payment's layout).
func NewRedisReader(rdb redis.UniversalClient, names topology.Names) *RedisReader {
	return &RedisReader{rdb: rdb, keys: sinkredis.NewKeys(names, payment.RedisCache{}.CacheLayout())}
}

// ByID reads the payment's document; an absent key (unknown, deleted or
// expired) is queries.ErrNotFound.
func (r *RedisReader) ByID(ctx context.Context, id string) (Payment, error) {
	key := r.keys.Doc(id)
	raw, err := r.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Payment{}, queries.ErrNotFound
	}
	if err != nil {
		return Payment{}, fmt.Errorf("redis: get %s: %w", key, err)
	}
	var d payment.RedisDocument
	if err := json.Unmarshal(raw, &d); err != nil {
		return Payment{}, fmt.Errorf("redis: decode %s: %w", key, err)
	}
	return Payment{
		ID: d.ID, OrganizationID: d.OrganizationID, UserID: d.UserID,
		Amount: d.Amount, AmountMinor: d.AmountMinor, Currency: d.Currency,
		Description: d.Description, Status: d.Status,
		CreatedAt: FormatTime(d.CreatedAt), UpdatedAt: FormatTime(d.UpdatedAt), Version: d.Version,
	}, nil
}

// Applied reads the next offset the sink stored for the token's partition
// (0 when none is stored).
func (r *RedisReader) Applied(ctx context.Context, t queries.Token) (int64, error) {
	key := r.keys.Offset(t.Topic, t.Partition)
	s, err := r.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redis: get %s: %w", key, err)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis: offset key %s holds %q, not an offset", key, s)
	}
	return n, nil
}
