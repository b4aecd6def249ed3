package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
)

// Target is the Redis sink target (sinks.Target). It is safe for use by one
// runtime at a time; several instances of the sink may share one Redis.
type Target struct {
	cfg   Config
	cache projections.Cache
	// base are the keys of version 1: the namespace's and the layout's
	// names (Keys.At gives a version's).
	base Keys
	// version is the version whose keys the target writes. A live target
	// (follow) follows the version pointer: the apply script refuses a
	// chunk for another version than the pointer's and Write moves on
	// (see applyScript). A target of Store.Target(v) writes v alone,
	// unless v is current at Setup.
	version atomic.Int64
	follow  atomic.Bool
	// followIfCurrent: Setup makes the target live when the pointer names
	// its version (Store.Target(Current)).
	followIfCurrent bool
	// msgOrg and msgID are the invalidation message's
	// {"<OrganizationField>": and ,"<IDField>": (appendMessage).
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
//
// The target is the live one: it writes the version the aggregate's
// version pointer names (Keys.Pointer; version 1 while it is absent) and
// follows it when a rebuild switches versions (Store.Switch).
func NewTarget(cfg Config, cache projections.Cache) (*Target, error) {
	t, err := newTarget(cfg, cache, 1)
	if err != nil {
		return nil, err
	}
	t.follow.Store(true)
	return t, nil
}

// newTarget returns a target writing version v.
func newTarget(cfg Config, cache projections.Cache, v int) (*Target, error) {
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
	msgOrg, msgID := `{"`+layout.OrganizationField+`":`, `,"`+layout.IDField+`":`
	t := &Target{
		cfg:    cfg,
		cache:  cache,
		base:   NewKeys(cfg.Names, layout),
		msgOrg: msgOrg,
		msgID:  msgID,
		where:  where,
		client: goredis.NewClient(opts),
		log:    slog.Default().With("sink", "redis"),
	}
	t.version.Store(int64(v))
	return t, nil
}

// keys returns the keys of the version the target writes now.
func (t *Target) keys() Keys { return t.base.At(int(t.version.Load())) }

// header returns the script's first arguments for keys k (argHeader: the
// first nine).
func (t *Target) header(k Keys) []any {
	l := k.layout
	return []any{int64(t.cfg.TTL.Seconds()), t.cfg.RecentSize, k.InvalidateChannel(),
		k.org, k.recent, k.cachever, l.OrganizationField, t.msgOrg, t.msgID}
}

// moveTo makes the target write version v, forgetting the offsets it saw
// in the previous one.
func (t *Target) moveTo(topic string, v int) {
	if old := t.version.Swap(int64(v)); old != int64(v) {
		t.stored.reset(topic)
		t.log.Info("following the version pointer", "aggregate", t.cfg.Names.Plural, "from", old, "to", v)
	}
}

// Name is the sink's name: its consumer group is Names.SinkGroup(Name).
const Name = "redis"

// Name returns Name.
func (t *Target) Name() string { return Name }

// Keys returns the key names the target writes (the version it writes
// now).
func (t *Target) Keys() Keys { return t.keys() }

// Version returns the version the target writes now.
func (t *Target) Version() int { return int(t.version.Load()) }

// Setup loads the apply script into Redis' script cache. It is idempotent;
// when Redis is down it returns an error wrapping sinks.ErrTransient, when
// Redis refuses the URL's credentials or database an error wrapping
// sinks.ErrPermanent. (A Redis restarted later loses its script cache;
// Write reloads it then.)
//
// A live target reads the version pointer here (and again in
// CommittedOffsets); a target of Store.Target(v) becomes live when v is the
// current version.
func (t *Target) Setup(ctx context.Context) error {
	if err := applyScript.Load(ctx, t.client).Err(); err != nil {
		return classify("load apply script into "+t.where, err)
	}
	if !t.follow.Load() && !t.followIfCurrent {
		return nil
	}
	v, err := t.base.CurrentVersion(ctx, t.client)
	if err != nil {
		return classify("read version pointer "+t.base.Pointer(), err)
	}
	if t.followIfCurrent && v == t.Version() {
		t.follow.Store(true)
	}
	if t.follow.Load() {
		t.version.Store(int64(v))
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
	if t.follow.Load() {
		// The pointer and the offsets of its version in one step.
		out, v, err := t.base.GetOffsets(ctx, t.client, topic, partitions)
		if err != nil {
			return nil, classify("read offsets of "+topic, err)
		}
		t.moveTo(topic, v)
		t.markStored(topic, partitions, out)
		return out, nil
	}
	k := t.keys()
	keys := make([]string, len(partitions))
	for i, p := range partitions {
		keys[i] = k.Offset(topic, p)
	}
	vals, err := t.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, classify("read offsets of "+topic, err)
	}
	out := make(map[int32]int64, len(partitions))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		off, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: offset key %s holds %q, not an offset: %w", keys[i], s, err)
		}
		out[partitions[i]] = off
	}
	t.markStored(topic, partitions, out)
	return out, nil
}

// markStored records which of partitions have an offset stored (in out).
func (t *Target) markStored(topic string, partitions []int32, out map[int32]int64) {
	for _, p := range partitions {
		if _, ok := out[p]; ok {
			t.stored.add(topic, []int32{p})
		} else {
			t.stored.remove(topic, p)
		}
	}
}

// Close closes the client's connections.
func (t *Target) Close() error {
	if err := t.client.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}
