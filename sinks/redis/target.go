package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
)

// Target is the Redis sink target (sinks.Target). It is safe for use by one
// runtime at a time; several instances of the sink may share one Redis.
type Target struct {
	cfg   Config
	cache projections.Cache
	keys  Keys
	// header holds the script's first arguments, the same for every call
	// (argHeader); msgOrg and msgID are the invalidation message's
	// {"<OrganizationField>": and ,"<IDField>": (appendMessage).
	header        []any
	msgOrg, msgID string
	// where names the server for messages: address, database and user,
	// never the password.
	where  string
	client *goredis.Client
	log    *slog.Logger
	// stored remembers the partitions whose offset key must exist.
	stored storedOffsets
}

var (
	_ sinks.Target  = (*Target)(nil)
	_ sinks.Pinger  = (*Target)(nil)
	_ sinks.Checker = (*Target)(nil)
)

// NewTarget validates cfg and the layout of cache (ValidateLayout) and opens
// a client (connections are made lazily, so a Redis that is down does not
// fail this call). The target writes the documents of the one aggregate
// whose cache projection it is given, named by cfg.Names (the aggregate's
// names: its events topic is the topic of the offset keys).
func NewTarget(cfg Config, cache projections.Cache) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cache == nil {
		return nil, errors.New("redis: no cache projection")
	}
	layout := cache.CacheLayout()
	if err := ValidateLayout(layout); err != nil {
		return nil, err
	}
	opts, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse URL: %w", err)
	}
	where := fmt.Sprintf("%s db %d", opts.Addr, opts.DB)
	if opts.Username != "" {
		where += " as user " + opts.Username
	}
	keys := NewKeys(cfg.Names, layout)
	msgOrg, msgID := `{"`+layout.OrganizationField+`":`, `,"`+layout.IDField+`":`
	return &Target{
		cfg:   cfg,
		cache: cache,
		keys:  keys,
		header: []any{int64(cfg.TTL.Seconds()), cfg.RecentSize, keys.InvalidateChannel(),
			keys.org, keys.recent, keys.cachever, layout.OrganizationField, msgOrg, msgID},
		msgOrg: msgOrg,
		msgID:  msgID,
		where:  where,
		client: goredis.NewClient(opts),
		log:    slog.Default().With("sink", "redis"),
	}, nil
}

// Name is the sink's name: its consumer group is Names.SinkGroup(Name).
const Name = "redis"

// Name returns Name.
func (t *Target) Name() string { return Name }

// Keys returns the key names the target writes.
func (t *Target) Keys() Keys { return t.keys }

// Setup loads the apply script into Redis' script cache. It is idempotent;
// when Redis is down it returns an error wrapping sinks.ErrTransient, when
// Redis refuses the URL's credentials or database an error wrapping
// sinks.ErrPermanent. (A Redis restarted later loses its script cache;
// Write reloads it then.)
func (t *Target) Setup(ctx context.Context) error {
	if err := applyScript.Load(ctx, t.client).Err(); err != nil {
		return classify("load apply script into "+t.where, err)
	}
	return nil
}

// Ping checks that Redis answers (sinks.Pinger); the error wraps
// sinks.ErrTransient or sinks.ErrPermanent (see classify).
func (t *Target) Ping(ctx context.Context) error {
	if err := t.client.Ping(ctx).Err(); err != nil {
		return classify("ping "+t.where, err)
	}
	return nil
}

// CommittedOffsets reads the next offset of each partition stored by the
// apply script; partitions never written are absent from the map. From
// then on Write expects the offsets it saw to stay (see ErrRewind). Errors
// reaching Redis wrap sinks.ErrTransient.
func (t *Target) CommittedOffsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	if len(partitions) == 0 {
		return map[int32]int64{}, nil
	}
	keys := make([]string, len(partitions))
	for i, p := range partitions {
		keys[i] = t.keys.Offset(topic, p)
	}
	vals, err := t.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, classify("read offsets of "+topic, err)
	}
	out := make(map[int32]int64, len(partitions))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			t.stored.remove(topic, partitions[i])
			continue
		}
		off, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: offset key %s holds %q, not an offset: %w", keys[i], s, err)
		}
		out[partitions[i]] = off
		t.stored.add(topic, partitions[i:i+1])
	}
	return out, nil
}

// Close closes the client's connections.
func (t *Target) Close() error {
	if err := t.client.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}
