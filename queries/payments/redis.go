package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
// expired) is queries.ErrNotFound. It reads the document of the version
// the sink's version pointer names, with the pointer, in one round trip
// (Keys.GetDoc): a read never fails or mixes versions while a rebuild
// switches them.
func (r *RedisReader) ByID(ctx context.Context, id string) (Payment, error) {
	raw, v, err := r.keys.GetDoc(ctx, r.rdb, id)
	if errors.Is(err, redis.Nil) {
		return Payment{}, queries.ErrNotFound
	}
	if err != nil {
		return Payment{}, fmt.Errorf("redis: get %s: %w", r.keys.Doc(id), err)
	}
	var d payment.RedisDocument
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return Payment{}, fmt.Errorf("redis: decode %s: %w", r.keys.At(v).Doc(id), err)
	}
	return Payment{
		ID: d.ID, OrganizationID: d.OrganizationID, UserID: d.UserID,
		Amount: d.Amount, AmountMinor: d.AmountMinor, Currency: d.Currency,
		Description: d.Description, Status: d.Status,
		CreatedAt: FormatTime(d.CreatedAt), UpdatedAt: FormatTime(d.UpdatedAt), Version: d.Version,
	}, nil
}

// Applied reads the next offset the sink stored for the token's partition
// (0 when none is stored), in the version the pointer names (as ByID).
func (r *RedisReader) Applied(ctx context.Context, t queries.Token) (int64, error) {
	offs, _, err := r.keys.GetOffsets(ctx, r.rdb, t.Topic, []int32{t.Partition})
	if err != nil {
		return 0, fmt.Errorf("redis: get %s: %w", r.keys.Offset(t.Topic, t.Partition), err)
	}
	return offs[t.Partition], nil
}
