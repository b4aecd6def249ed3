package queries

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Defaults of CacheConfig.
const (
	DefaultTTL       = 300 * time.Second
	DefaultL1Size    = 100_000
	DefaultOrgField  = "organizationId"
	DefaultFill      = 30 * time.Second
	DefaultSettle    = 2 * time.Second
	defaultRedisWait = 2 * time.Second
)

// Policy says how one query type is cached.
type Policy struct {
	// CacheVersions are the CacheLayout.CacheVersion names
	// (projections.CacheLayout; Payment's "cachever") of the aggregates
	// the query reads: an L2 entry is served only while every such
	// <ns>:org:<org>:<name> counter of the scope's organizations is what
	// it was before the entry was computed. Without any, or for the
	// AllOrganizations scope, the query is cached in L1 only.
	CacheVersions []string
	// TTL of the query's entries in both levels; 0 means the cache's TTL.
	TTL time.Duration
}

// CacheConfig configures a Cache.
type CacheConfig struct {
	// Namespace is the key prefix's namespace (<ns>).
	Namespace string
	// Redis is the L2 (and the invalidation channel's) client; required.
	Redis redis.UniversalClient
	// TTL of the entries, both levels (DefaultTTL when 0).
	TTL time.Duration
	// L1Size bounds the number of L1 entries (DefaultL1Size when 0).
	L1Size int
	// Policies lists the cached query types; a query type absent from it
	// passes through the cache untouched.
	Policies map[string]Policy
	// OrganizationFields are the invalidation messages' organization
	// fields (projections.CacheLayout.OrganizationField of each
	// aggregate); [DefaultOrgField] when empty.
	OrganizationFields []string
	// FillTimeout bounds one miss's work (L2 read, source, L2 write);
	// DefaultFill when 0. It runs detached from its first caller's
	// cancellation, since other callers may wait for it.
	FillTimeout time.Duration
	// CounterSources name the read sources whose answers follow the
	// cachever counters and the invalidation channel (the Redis sink's
	// own keys): ["redis"] when empty. See SettleWindow.
	CounterSources []string
	// SettleWindow bounds how long after the Redis sink announced a
	// change (an invalidation heard, or L1 dropped whole) another source
	// may still answer without it (DefaultSettle when 0). An answer of a
	// source not in CounterSources whose computation began within the
	// window after its scope's last invalidation is kept in L1 only, until
	// the window ends, and never in L2; an L2 entry of such a source
	// computed within the window (by an instance that had not heard the
	// message yet) is not served.
	SettleWindow time.Duration
	// Logger (slog.Default() when nil).
	Logger *slog.Logger
}

// l1Entry is an L1 value: the answer and the invalidation stamp it was
// computed under.
type l1Entry struct {
	json   []byte
	source string
	stamp  uint64
	ttl    time.Duration // 0: the query type's TTL
}

// Cache is the two-level query cache, used as the bus's middleware
// (Middleware). Safe for concurrent use.
type Cache struct {
	ns       string
	rdb      redis.UniversalClient
	ttl      time.Duration
	fill     time.Duration
	policies map[string]Policy
	orgField []string
	log      *slog.Logger
	l1       *otter.Cache[string, l1Entry]
	group    singleflight.Group

	// Invalidation generations (see stamp): epoch drops everything,
	// anyGen counts every invalidated organization, orgGens one counter
	// per organization (*orgState). All only grow. Each also keeps the
	// time of its last move (Unix ns), for the settle window.
	epoch   atomic.Uint64
	epochAt atomic.Int64
	anyGen  atomic.Uint64
	anyAt   atomic.Int64
	orgGens sync.Map

	settle    time.Duration
	following map[string]bool // CounterSources
}

// orgState is one organization's invalidation generation and the time of
// its last invalidation (Unix ns).
type orgState struct {
	gen atomic.Uint64
	at  atomic.Int64
}

// NewCache builds a cache; it does not subscribe to invalidations (see
// Subscribe).
func NewCache(cfg CacheConfig) (*Cache, error) {
	if cfg.Redis == nil {
		return nil, errors.New("queries: cache needs a Redis client")
	}
	if cfg.Namespace == "" {
		return nil, errors.New("queries: cache needs a namespace")
	}
	if cfg.TTL < 0 || cfg.FillTimeout < 0 || cfg.L1Size < 0 || cfg.SettleWindow < 0 {
		return nil, errors.New("queries: negative TTL, fill timeout, L1 size or settle window")
	}
	for typ, p := range cfg.Policies {
		if err := checkType(typ); err != nil {
			return nil, err
		}
		if p.TTL < 0 {
			return nil, fmt.Errorf("queries: negative TTL for %s", typ)
		}
		for _, v := range p.CacheVersions {
			if v == "" {
				return nil, fmt.Errorf("queries: empty cache version name for %s", typ)
			}
		}
	}
	c := &Cache{
		ns:        cfg.Namespace,
		rdb:       cfg.Redis,
		ttl:       cfg.TTL,
		fill:      cmp.Or(cfg.FillTimeout, DefaultFill),
		policies:  cfg.Policies,
		orgField:  cfg.OrganizationFields,
		log:       cfg.Logger,
		settle:    cmp.Or(cfg.SettleWindow, DefaultSettle),
		following: map[string]bool{},
	}
	for _, src := range cfg.CounterSources {
		c.following[src] = true
	}
	if len(c.following) == 0 {
		c.following["redis"] = true
	}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	if len(c.orgField) == 0 {
		c.orgField = []string{DefaultOrgField}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	size := cfg.L1Size
	if size <= 0 {
		size = DefaultL1Size
	}
	l1, err := otter.New(&otter.Options[string, l1Entry]{
		MaximumSize: size,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, l1Entry]) time.Duration {
			if e.Value.ttl > 0 {
				return e.Value.ttl
			}
			return c.ttlOf(e.Key)
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("queries: L1 cache: %w", err)
	}
	c.l1 = l1
	return c, nil
}

// ttlOf returns the TTL of an L1 key's query type (<ns>:q:<type>:...).
func (c *Cache) ttlOf(key string) time.Duration {
	rest := key[len(c.ns)+3:]
	if i := strings.IndexByte(rest, ':'); i > 0 {
		if p, ok := c.policies[rest[:i]]; ok && p.TTL > 0 {
			return p.TTL
		}
	}
	return c.ttl
}

func (c *Cache) policyTTL(p Policy) time.Duration {
	if p.TTL > 0 {
		return p.TTL
	}
	return c.ttl
}

// orgGen returns the invalidation state of an organization.
func (c *Cache) orgGen(org string) *orgState {
	if g, ok := c.orgGens.Load(org); ok {
		return g.(*orgState)
	}
	g, _ := c.orgGens.LoadOrStore(org, new(orgState))
	return g.(*orgState)
}

// stamp is the invalidation state a scope's L1 entry depends on: the sum
// of the epoch and the scope's generations (anyGen for AllOrganizations).
// Every counter only grows, so the sum changes as soon as one of them
// does: an entry whose stamp differs from the current one is stale.
func (c *Cache) stamp(s Scope) uint64 {
	st := c.epoch.Load()
	if s.all {
		return st + c.anyGen.Load()
	}
	for _, org := range s.orgs {
		st += c.orgGen(org).gen.Load()
	}
	return st
}

// settledAt is when the scope's last invalidation (or drop of all of L1)
// is a settle window old: before it, a source that does not follow the
// counters may not have applied that change yet. Zero when nothing was
// invalidated.
func (c *Cache) settledAt(s Scope) time.Time {
	last := c.epochAt.Load()
	if s.all {
		last = max(last, c.anyAt.Load())
	} else {
		for _, org := range s.orgs {
			last = max(last, c.orgGen(org).at.Load())
		}
	}
	if last == 0 {
		return time.Time{}
	}
	return time.Unix(0, last).Add(c.settle)
}

// InvalidateOrganization drops the L1 entries of every scope that holds
// org (and of the AllOrganizations scope). The invalidation subscriber
// calls it for each organization of a message.
func (c *Cache) InvalidateOrganization(org string) {
	now := time.Now().UnixNano()
	g := c.orgGen(org)
	g.at.Store(now)
	g.gen.Add(1)
	c.anyAt.Store(now)
	c.anyGen.Add(1)
}

// InvalidateAll drops every L1 entry (the subscriber does when it
// (re)subscribes or loses its connection: messages may have been missed).
// Every organization then counts as just invalidated for the settle
// window.
func (c *Cache) InvalidateAll() {
	c.epochAt.Store(time.Now().UnixNano())
	c.epoch.Add(1)
}

// cacheVersionKeys are the counters an L2 entry of q depends on, nil when
// q is cached in L1 only.
func (c *Cache) cacheVersionKeys(q Query, p Policy) []string {
	if q.Scope.all || len(p.CacheVersions) == 0 {
		return nil
	}
	keys := make([]string, 0, len(q.Scope.orgs)*len(p.CacheVersions))
	for _, org := range q.Scope.orgs {
		for _, v := range p.CacheVersions {
			keys = append(keys, c.ns+":org:"+org+":"+v)
		}
	}
	return keys
}

// Middleware is the cache as bus middleware: L1, then (one caller per key
// at a time: singleflight) L2, then next; the answer next gives is stored
// in both levels. Errors are not cached; a panic of next on a miss is
// returned as an error. Query types without a Policy pass through.
func (c *Cache) Middleware() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, q Query) (Answer, error) {
			p, ok := c.policies[q.Type]
			if !ok || !q.Consistency.IsZero() {
				return next(ctx, q)
			}
			key := q.Key(c.ns)
			stamp := c.stamp(q.Scope)
			if e, ok := c.l1.GetIfPresent(key); ok && e.stamp == stamp {
				return Answer{JSON: e.json, Source: e.source, Cache: L1}, nil
			}
			// The flight is keyed by the stamp too: a query that arrives
			// after an invalidation never joins a flight that began
			// before it.
			flight := key + "@" + strconv.FormatUint(stamp, 10)
			ch := c.group.DoChan(flight, func() (a any, err error) {
				// singleflight re-panics a panic where nobody can recover
				// it: turn it into the flight's error instead.
				defer func() {
					if r := recover(); r != nil {
						a, err = nil, fmt.Errorf("queries: handler of %s panicked: %v", q.Type, r)
					}
				}()
				// The leader runs detached from its caller's cancellation
				// (followers may still wait), bounded by FillTimeout.
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fill)
				defer cancel()
				return c.fillMiss(fctx, q, p, key, stamp, next)
			})
			select {
			case r := <-ch:
				if r.Err != nil {
					return Answer{}, r.Err
				}
				return r.Val.(Answer), nil
			case <-ctx.Done():
				return Answer{}, ctx.Err()
			}
		}
	}
}

// fillMiss answers a miss of L1: from L2 when its entry is current, otherwise
// from next, storing the answer in L1 and L2.
//
// stamp and the counters are read before the source is asked, so an
// invalidation that lands while it answers makes the stored entry stale at
// once rather than hiding the change.
//
// An answer of a source that does not follow the counters (not in
// CacheConfig.CounterSources) begun within the settle window after the
// scope's last invalidation may predate that change: it is kept in L1
// only, until the window ends (not at all when the window ended while it
// was computed). An L2 entry of such a source computed within the window
// is not served (the instance that stored it had not heard the message
// yet).
func (c *Cache) fillMiss(ctx context.Context, q Query, p Policy, key string, stamp uint64, next Handler) (Answer, error) {
	began := time.Now()
	verKeys := c.cacheVersionKeys(q, p)
	var versions []string
	if verKeys != nil {
		rctx, cancel := context.WithTimeout(ctx, defaultRedisWait)
		vals, err := c.rdb.MGet(rctx, append([]string{key}, verKeys...)...).Result()
		cancel()
		if err != nil {
			// L2 is an optimisation: without Redis, ask the source and
			// keep the answer in L1 only.
			c.log.Warn("query cache: L2 read failed", "key", key, "error", err)
			verKeys = nil
		} else {
			versions = make([]string, len(verKeys))
			for i, v := range vals[1:] {
				if s, ok := v.(string); ok {
					versions[i] = s
				}
			}
			if s, ok := vals[0].(string); ok {
				if json, source, at, ok := decodeL2(s, versions); ok && (c.following[source] || !at.Before(c.settledAt(q.Scope))) {
					c.l1.Set(key, l1Entry{json: json, source: source, stamp: stamp})
					return Answer{JSON: json, Source: source, Cache: L2}, nil
				}
			}
		}
	}
	a, err := next(ctx, q)
	if err != nil {
		return Answer{}, err
	}
	a.Cache = Miss
	if !c.following[a.Source] {
		if settled := c.settledAt(q.Scope); began.Before(settled) {
			if ttl := time.Until(settled); ttl > 0 {
				c.l1.Set(key, l1Entry{json: a.JSON, source: a.Source, stamp: stamp, ttl: min(ttl, c.policyTTL(p))})
			}
			return a, nil
		}
	}
	c.l1.Set(key, l1Entry{json: a.JSON, source: a.Source, stamp: stamp})
	if verKeys != nil {
		rctx, cancel := context.WithTimeout(ctx, defaultRedisWait)
		err := c.rdb.Set(rctx, key, encodeL2(versions, a.Source, began, a.JSON), c.policyTTL(p)).Err()
		cancel()
		if err != nil {
			c.log.Warn("query cache: L2 write failed", "key", key, "error", err)
		}
	}
	return a, nil
}

// encodeL2 renders an L2 value: the counters' values it was computed
// under (comma-separated, "" for an absent counter), the source and the
// time its computation began (Unix ms) separated by a space, the answer;
// separated by newlines.
func encodeL2(versions []string, source string, began time.Time, json []byte) []byte {
	head := strings.Join(versions, ",")
	b := make([]byte, 0, len(head)+len(source)+len(json)+16)
	b = append(b, head...)
	b = append(b, '\n')
	b = append(b, source...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, began.UnixMilli(), 10)
	b = append(b, '\n')
	return append(b, json...)
}

// decodeL2 returns an L2 value's answer, source and computation time when
// its counters equal versions (a value without the time, as written
// before it was kept, has the zero time).
func decodeL2(s string, versions []string) (json []byte, source string, began time.Time, ok bool) {
	head, rest, ok := strings.Cut(s, "\n")
	if !ok || head != strings.Join(versions, ",") {
		return nil, "", time.Time{}, false
	}
	line, body, ok := strings.Cut(rest, "\n")
	if !ok {
		return nil, "", time.Time{}, false
	}
	source, ms, timed := strings.Cut(line, " ")
	if timed {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return nil, "", time.Time{}, false
		}
		began = time.UnixMilli(n)
	}
	return []byte(body), source, began, true
}
