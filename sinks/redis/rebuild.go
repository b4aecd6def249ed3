package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
)

// Store is the Redis sink's rebuild.Store for one aggregate (docs/rebuild.md
// "Redis store"). Version 1 is the keys the sink always wrote (README
// "Redis"); version N >= 2 the same keys under <ns>:v<N>: (Keys.At). The
// version pointer (Keys.Pointer, absent: 1) names the current version:
// live targets (NewTarget) write it and follow it, readers read it with
// each document in one round trip (Keys.GetDoc).
type Store struct {
	cfg    Config
	cache  projections.Cache
	keys   Keys
	topic  string
	client *goredis.Client
	where  string
	log    *slog.Logger
	// Hold is how long the switching key lives without being renewed
	// (Switch renews it while CatchUp runs): the longest a live sink
	// waits when the process switching dies.
	Hold time.Duration
	// SwitchAttempts bounds the attempts of Switch.
	SwitchAttempts int
}

var _ rebuild.Store = (*Store)(nil)

// Defaults of Store.Hold and Store.SwitchAttempts.
const (
	DefaultHold           = 15 * time.Second
	DefaultSwitchAttempts = 5
)

// NewStore returns the store of the aggregate whose cache projection is
// cache, with the configuration of its Target (cfg.Names names the
// aggregate: its events topic is the topic of the offset keys). Like
// NewTarget it connects lazily.
func NewStore(cfg Config, cache projections.Cache) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Names.Plural == "" {
		return nil, errors.New("redis: Names has no aggregate (topology.Names.Aggregate)")
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
	return &Store{
		cfg:            cfg,
		cache:          cache,
		keys:           NewKeys(cfg.Names, layout),
		topic:          cfg.Names.EventsTopic(),
		client:         goredis.NewClient(opts),
		where:          fmt.Sprintf("%s db %d", opts.Addr, opts.DB),
		log:            slog.Default().With("sink", Name, "aggregate", cfg.Names.Plural),
		Hold:           DefaultHold,
		SwitchAttempts: DefaultSwitchAttempts,
	}, nil
}

// Sink returns Name.
func (s *Store) Sink() string { return Name }

// Projections returns nil: the Redis store has none.
func (s *Store) Projections() []string { return nil }

// Close closes the client's connections.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}

// Current reads the version pointer (absent: 1).
func (s *Store) Current(ctx context.Context) (int, error) {
	v, err := s.keys.CurrentVersion(ctx, s.client)
	if err != nil {
		return 0, classify("read version pointer "+s.keys.Pointer(), err)
	}
	return v, nil
}

// Versions returns the current version and every version holding a key of
// the aggregate (a document, a recent index or an offset of its topic),
// found by one SCAN of the namespace's keys.
func (s *Store) Versions(ctx context.Context) ([]int, error) {
	cur, err := s.Current(ctx)
	if err != nil {
		return nil, err
	}
	found := map[int]bool{cur: true}
	err = s.scan(ctx, globEscape(s.keys.prefix)+"*", func(keys []string) error {
		for _, key := range keys {
			if v, rest := s.splitVersion(key); v > 0 && !found[v] && s.owns(rest, s.topic) {
				found[v] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []int
	for v := range found {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

// splitVersion returns the version of a key under the namespace prefix and
// the rest of the key after the version's prefix (0 when it is not one).
func (s *Store) splitVersion(key string) (int, string) {
	rest, ok := strings.CutPrefix(key, s.keys.prefix)
	if !ok {
		return 0, ""
	}
	if after, ok := strings.CutPrefix(rest, "v"); ok {
		if digits, r, ok := strings.Cut(after, ":"); ok {
			if v, err := strconv.Atoi(digits); err == nil && v >= 2 && strconv.Itoa(v) == digits {
				return v, r
			}
		}
	}
	return 1, rest
}

// owns reports whether rest (a key without its version's prefix) is one of
// the aggregate's versioned keys: a document, a recent index, an offset of
// topic.
func (s *Store) owns(rest, topic string) bool {
	l := s.keys.layout
	return strings.HasPrefix(rest, l.Key+":") ||
		(strings.HasPrefix(rest, "org:") && strings.HasSuffix(rest, ":"+l.Recent)) ||
		strings.HasPrefix(rest, "sink:redis:offset:"+topic+":")
}

// patterns are the SCAN patterns of the aggregate's keys in version v:
// documents, recent indexes, offsets of topic. Change counters, the
// invalidation channel and the pointer are not versioned and never match.
func (s *Store) patterns(v int, topic string) []string {
	vp := globEscape(s.keys.At(v).vprefix)
	l := s.keys.layout
	return []string{
		vp + globEscape(l.Key) + ":*",
		vp + "org:*:" + globEscape(l.Recent),
		vp + "sink:redis:offset:" + globEscape(topic) + ":*",
	}
}

// globEscape escapes the glob characters of a SCAN pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// scan calls fn with each page of the keys matching pattern.
func (s *Store) scan(ctx context.Context, pattern string, fn func([]string) error) error {
	var cursor uint64
	for {
		keys, next, err := s.client.Scan(ctx, cursor, pattern, 5000).Result()
		if err != nil {
			return classify("scan "+pattern, err)
		}
		if len(keys) > 0 {
			if err := fn(keys); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// unlink deletes every key of the aggregate in version v (offsets of
// topic), page by page, and returns how many it deleted.
func (s *Store) unlink(ctx context.Context, v int, topic string) (int, error) {
	n := 0
	for _, p := range s.patterns(v, topic) {
		err := s.scan(ctx, p, func(keys []string) error {
			if err := s.client.Unlink(ctx, keys...).Err(); err != nil {
				return classify(fmt.Sprintf("unlink %d keys matching %s", len(keys), p), err)
			}
			n += len(keys)
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Target returns a target writing version v with v's offset keys. When v
// is the current version at Setup, it is the live target (NewTarget): it
// follows the pointer from then on.
func (s *Store) Target(v int) (sinks.Target, error) {
	if v < 1 {
		return nil, fmt.Errorf("redis: version %d: want 1 or more", v)
	}
	t, err := newTarget(s.cfg, s.cache, v)
	if err != nil {
		return nil, err
	}
	t.followIfCurrent = true
	return t, nil
}

// Clear deletes every key of the aggregate in version v: its documents,
// recent indexes and offsets of topic (SCAN, then UNLINK page by page). The
// change counters stay (they only ever grow). projections must be nil.
func (s *Store) Clear(ctx context.Context, v int, topic string, projections []string) error {
	if projections != nil {
		return fmt.Errorf("redis: clear %v: %w: the redis store is rebuilt whole", projections, rebuild.ErrNoSuchProjection)
	}
	if v < 1 {
		return fmt.Errorf("redis: version %d: want 1 or more", v)
	}
	n, err := s.unlink(ctx, v, topic)
	if err != nil {
		return err
	}
	s.log.Info("version cleared", "version", v, "topic", topic, "keys", n)
	return nil
}

// forgetBatch is how many documents one step of Forget reads and deletes.
const forgetBatch = 500

// Forget deletes the documents of ids in version v, each with its entry in
// its organization's recent index (the organization read from the
// document) and a bump of that organization's change counter, then sets
// v's offsets of topic to next. Every document is a full state, so a
// replay from next rewrites each id from its events: the Redis store can
// be rebuilt from any start.
func (s *Store) Forget(ctx context.Context, v int, topic string, ids []string, next map[int32]int64) error {
	if ids == nil && next == nil {
		return nil
	}
	if v < 1 {
		return fmt.Errorf("redis: version %d: want 1 or more", v)
	}
	k := s.keys.At(v)
	orgField := k.layout.OrganizationField
	for start := 0; start < len(ids); start += forgetBatch {
		part := ids[start:min(start+forgetBatch, len(ids))]
		docKeys := make([]string, len(part))
		for i, id := range part {
			docKeys[i] = k.Doc(id)
		}
		docs, err := s.client.MGet(ctx, docKeys...).Result()
		if err != nil {
			return classify("read documents to forget", err)
		}
		_, err = s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			bumped := map[string]bool{}
			for i, id := range part {
				p.Unlink(ctx, docKeys[i], k.Version(id))
				raw, ok := docs[i].(string)
				if !ok {
					continue
				}
				var d map[string]json.RawMessage
				var org string
				if json.Unmarshal([]byte(raw), &d) != nil || json.Unmarshal(d[orgField], &org) != nil || org == "" {
					continue // no organization: no recent entry to remove
				}
				p.ZRem(ctx, k.Recent(org), id)
				if !bumped[org] {
					bumped[org] = true
					p.Incr(ctx, k.CacheVersion(org))
				}
			}
			return nil
		})
		if err != nil {
			return classify(fmt.Sprintf("forget %d documents", len(part)), err)
		}
	}
	if len(next) > 0 {
		pairs := make([]any, 0, 2*len(next))
		for p, off := range next {
			pairs = append(pairs, k.Offset(topic, p), strconv.FormatInt(off, 10))
		}
		if err := s.client.MSet(ctx, pairs...).Err(); err != nil {
			return classify("set offsets of "+topic, err)
		}
	}
	s.log.Info("documents forgotten", "version", v, "topic", topic, "ids", len(ids), "next", next)
	return nil
}

// LiveOffsets returns version v's stored next offsets of topic (SCAN of its
// offset keys); an empty map when none is stored.
func (s *Store) LiveOffsets(ctx context.Context, v int, topic string) (map[int32]int64, error) {
	if v < 1 {
		return nil, fmt.Errorf("redis: version %d: want 1 or more", v)
	}
	prefix := s.keys.At(v).vprefix + "sink:redis:offset:" + topic + ":"
	var keys []string
	err := s.scan(ctx, globEscape(prefix)+"*", func(page []string) error {
		keys = append(keys, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, classify("read offsets of "+topic, err)
	}
	for i, key := range keys {
		str, ok := vals[i].(string)
		if !ok {
			continue // deleted between SCAN and MGET
		}
		p, err := strconv.ParseInt(strings.TrimPrefix(key, prefix), 10, 32)
		if err != nil {
			continue // not a partition: another topic's key sharing the prefix
		}
		off, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: offset key %s holds %q, not an offset", key, str)
		}
		out[int32(p)] = off
	}
	return out, nil
}

// switchScript makes version To current if, and only if, the switch still
// holds the switching key (its token), From is still current and To's
// offsets equal From's for every partition given.
//
// KEYS[1]: the pointer, KEYS[2]: the switching key. ARGV: from, to, token,
// From's offset key prefix, To's offset key prefix, then the partitions.
// Returns 'OK', or {'HOLD_LOST'}, {'NOT_CURRENT', version},
// {'DIFFERS', partition, from's, to's}.
var switchScript = goredis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return {'HOLD_LOST'} end
local cur = redis.call('GET', KEYS[1]) or '1'
if cur ~= ARGV[1] then return {'NOT_CURRENT', cur} end
for i = 6, #ARGV do
  local a = redis.call('GET', ARGV[4] .. ARGV[i]) or ''
  local b = redis.call('GET', ARGV[5] .. ARGV[i]) or ''
  if a ~= b then return {'DIFFERS', ARGV[i], a, b} end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return {'OK'}
`)

// holdScript renews (ARGV[2] ms) or releases (ARGV[2] = 0) the switching
// key when it still holds the token ARGV[1].
var holdScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

// Switch makes sw.To current. Each attempt:
//
//  1. takes the switching key (Keys.Switching, a random token, TTL Hold,
//     renewed while the attempt runs): from then on a live target refuses
//     to write and waits (applyScript), so From's offsets stand still;
//  2. reads From's offsets and calls sw.CatchUp with them: To then holds
//     exactly the events below them;
//  3. one script checks that the key is still held, that From is still
//     current and that To's offsets equal From's for every partition of
//     either, then sets the pointer to To and releases the key.
//
// Readers read the pointer with each document (Keys.GetDoc): before the
// script they read From, after it To, never a mix. Live targets find the
// pointer moved at their next chunk and write To from then on (Write). An
// attempt whose check fails (the key expired, a CatchUp that fell short)
// releases the key and is retried, up to SwitchAttempts. Then, unless
// sw.KeepOld, From's keys are deleted (Drop).
func (s *Store) Switch(ctx context.Context, sw rebuild.Switch) error {
	if sw.Projections != nil {
		return fmt.Errorf("redis: switch %v: %w: the redis store is switched whole", sw.Projections, rebuild.ErrNoSuchProjection)
	}
	if sw.CatchUp == nil {
		return errors.New("redis: switch without CatchUp")
	}
	if sw.From < 1 || sw.To < 1 || sw.From == sw.To {
		return fmt.Errorf("redis: switch from version %d to %d: want two versions, 1 or more", sw.From, sw.To)
	}
	if cur, err := s.Current(ctx); err != nil {
		return err
	} else if cur != sw.From {
		return fmt.Errorf("redis: switch from version %d to %d: the current version is %d", sw.From, sw.To, cur)
	}
	attempts := max(s.SwitchAttempts, 1)
	for attempt := 1; ; attempt++ {
		done, err := s.switchOnce(ctx, sw)
		if done {
			break
		}
		if !errors.Is(err, errRetrySwitch) {
			return err
		}
		if attempt == attempts {
			return fmt.Errorf("redis: switch from version %d to %d: gave up after %d attempts: %w", sw.From, sw.To, attempts, err)
		}
		s.log.Warn("switch attempt failed: retrying", "attempt", attempt, "err", err)
	}
	s.log.Info("version switched", "from", sw.From, "to", sw.To, "keep_old", sw.KeepOld)
	if err := s.invalidate(ctx, sw.From, sw.To); err != nil {
		s.log.Warn("switched, but the query caches were not told: they may answer from the old version until their TTL", "err", err)
	}
	if sw.KeepOld {
		return nil
	}
	return s.Drop(ctx, sw.From)
}

// invalidate tells the query caches that every organization of versions
// from and to changed: it bumps each one's change counter and publishes one
// invalidation message naming them all ([{"<OrganizationField>":"<org>"},
// ...], without id and version). A version being built does neither
// (applyScript), so this is what drops what the caches computed from the
// old version.
func (s *Store) invalidate(ctx context.Context, from, to int) error {
	orgs := map[string]bool{}
	for _, v := range []int{from, to} {
		k := s.keys.At(v)
		head, tail := k.org, k.recent
		err := s.scan(ctx, globEscape(head)+"*"+globEscape(tail), func(keys []string) error {
			for _, key := range keys {
				if org, ok := strings.CutSuffix(strings.TrimPrefix(key, head), tail); ok && org != "" {
					orgs[org] = true
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(orgs) == 0 {
		return nil
	}
	field, err := json.Marshal(s.keys.layout.OrganizationField)
	if err != nil {
		return err
	}
	msg := []byte{'['}
	_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, org := range slices.Sorted(maps.Keys(orgs)) {
			p.Incr(ctx, s.keys.CacheVersion(org))
			o, _ := json.Marshal(org)
			if len(msg) > 1 {
				msg = append(msg, ',')
			}
			msg = append(append(append(append(msg, '{'), field...), ':'), o...)
			msg = append(msg, '}')
		}
		return nil
	})
	if err != nil {
		return classify("bump the change counters", err)
	}
	if err := s.client.Publish(ctx, s.keys.InvalidateChannel(), string(append(msg, ']'))).Err(); err != nil {
		return classify("publish on "+s.keys.InvalidateChannel(), err)
	}
	return nil
}

// errRetrySwitch is wrapped by an attempt of Switch that may succeed when
// repeated.
var errRetrySwitch = errors.New("switch attempt failed")

// switchOnce is one attempt of Switch; done when the pointer names sw.To.
func (s *Store) switchOnce(ctx context.Context, sw rebuild.Switch) (done bool, err error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	hold := max(s.Hold, time.Second)
	ok, err := s.client.SetNX(ctx, s.keys.Switching(), token, hold).Result()
	if err != nil {
		return false, classify("take the switching key "+s.keys.Switching(), err)
	}
	if !ok {
		return false, fmt.Errorf("redis: another switch of %s holds %s (it expires within %s if that switch died)", s.cfg.Names.Plural, s.keys.Switching(), hold)
	}
	// Renew the key while this attempt runs; release it at the end unless
	// the switch script did.
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		tick := time.NewTicker(hold / 3)
		defer tick.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-tick.C:
				_ = holdScript.Run(renewCtx, s.client, []string{s.keys.Switching()}, token, hold.Milliseconds()).Err()
			}
		}
	}()
	defer func() {
		stopRenew()
		<-renewed
		if !done {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if rerr := holdScript.Run(rctx, s.client, []string{s.keys.Switching()}, token, 0).Err(); rerr != nil {
				s.log.Warn("could not release the switching key: live sinks wait until it expires", "key", s.keys.Switching(), "expires_in", hold, "err", rerr)
			}
		}
	}()

	live, err := s.LiveOffsets(ctx, sw.From, sw.Topic)
	if err != nil {
		return false, err
	}
	if err := sw.CatchUp(ctx, live); err != nil {
		return false, fmt.Errorf("redis: switch from version %d to %d: catch up to %v: %w", sw.From, sw.To, live, err)
	}
	built, err := s.LiveOffsets(ctx, sw.To, sw.Topic)
	if err != nil {
		return false, err
	}
	args := []any{strconv.Itoa(sw.From), strconv.Itoa(sw.To), token,
		s.keys.At(sw.From).vprefix + "sink:redis:offset:" + sw.Topic + ":",
		s.keys.At(sw.To).vprefix + "sink:redis:offset:" + sw.Topic + ":"}
	parts := map[int32]bool{}
	for p := range live {
		parts[p] = true
	}
	for p := range built {
		parts[p] = true
	}
	for p := range parts {
		args = append(args, strconv.FormatInt(int64(p), 10))
	}
	res, err := switchScript.Run(ctx, s.client, []string{s.keys.Pointer(), s.keys.Switching()}, args...).StringSlice()
	if err != nil {
		return false, classify("switch script", err)
	}
	switch res[0] {
	case "OK":
		return true, nil
	case "HOLD_LOST":
		return false, fmt.Errorf("%w: the switching key expired or was taken during CatchUp", errRetrySwitch)
	case "NOT_CURRENT":
		return false, fmt.Errorf("redis: switch from version %d to %d: the current version became %s meanwhile", sw.From, sw.To, res[1])
	case "DIFFERS":
		return false, fmt.Errorf("%w: after CatchUp, version %d stores offset %q of partition %s, version %d %q (want equal)",
			errRetrySwitch, sw.To, res[3], res[1], sw.From, res[2])
	}
	return false, fmt.Errorf("redis: switch script answered %v", res)
}

// Drop deletes every key of the aggregate in version v (documents, recent
// indexes, offsets of its events topic); the current version is refused.
func (s *Store) Drop(ctx context.Context, v int) error {
	if v < 1 {
		return fmt.Errorf("redis: version %d: want 1 or more", v)
	}
	cur, err := s.Current(ctx)
	if err != nil {
		return err
	}
	if v == cur {
		return fmt.Errorf("redis: drop version %d of %s: it is the current version", v, s.cfg.Names.Plural)
	}
	n, err := s.unlink(ctx, v, s.topic)
	if err != nil {
		return err
	}
	s.log.Info("version dropped", "version", v, "keys", n)
	return nil
}
