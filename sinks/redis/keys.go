package redis

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/topology"
)

// Keys builds every Redis key and channel name of one aggregate of one
// namespace, from the aggregate's projections.CacheLayout. Readers use the
// same type, so readers and the sink never disagree.
type Keys struct {
	// prefix is the namespace's (<ns>:), vprefix the version's: prefix for
	// version 1, <ns>:v<N>: for N >= 2.
	prefix, vprefix string
	version         int
	layout          projections.CacheLayout
	// doc is <vprefix><Key>:, org is <vprefix>org:, cvorg is <prefix>org:
	// (change counters are not versioned), recent and cachever are
	// :<Recent> and :<CacheVersion>: one concatenation per key.
	doc, org, cvorg, recent, cachever string
}

// NewKeys returns the keys under names.RedisPrefix() laid out as layout
// says (see projections.CacheLayout). It does not check layout; NewTarget
// does (ValidateLayout).
func NewKeys(names topology.Names, layout projections.CacheLayout) Keys {
	p := names.RedisPrefix()
	return Keys{prefix: p, vprefix: p, version: 1, layout: layout, doc: p + layout.Key + ":", org: p + "org:", cvorg: p + "org:",
		recent: ":" + layout.Recent, cachever: ":" + layout.CacheVersion}
}

// At returns the keys of version v of the store (see rebuild.Store):
// version 1 is the keys of NewKeys, version N >= 2 the same documents,
// recent indexes and offset keys under <ns>:v<N>:. The change counters
// (CacheVersion), the invalidation channel and the version pointer are the
// namespace's, the same in every version. v < 1 is taken as 1.
func (k Keys) At(v int) Keys {
	v = max(v, 1)
	k.version, k.vprefix = v, versionPrefix(k.prefix, v)
	k.doc, k.org = k.vprefix+k.layout.Key+":", k.vprefix+"org:"
	return k
}

// versionPrefix is the key prefix of version v under the namespace prefix.
func versionPrefix(prefix string, v int) string {
	if v <= 1 {
		return prefix
	}
	return prefix + "v" + strconv.Itoa(v) + ":"
}

// VersionNumber returns the version the keys are of (1 for NewKeys).
func (k Keys) VersionNumber() int { return max(k.version, 1) }

// Pointer is the key holding the version readers and the live sink use
// (absent: 1), one per aggregate (Payment: <ns>:sink:redis:version:payment).
// The layout's Key cannot be "sink" (ValidateLayout), so no document key
// is ever this one.
func (k Keys) Pointer() string { return k.prefix + "sink:redis:version:" + k.layout.Key }

// Switching is the key a switch of versions holds while it brings the new
// version up to the live one (Store.Switch): while it exists the live sink
// waits instead of writing. It expires on its own if the switch dies.
func (k Keys) Switching() string { return k.prefix + "sink:redis:switching:" + k.layout.Key }

// Doc is the key of the aggregate's JSON document (Payment:
// <ns>:payment:<id>).
func (k Keys) Doc(id string) string { return k.doc + id }

// Version is the key of the deletion marker that earlier versions of the
// sink kept for a deleted document. The target no longer writes or reads it
// (markers left behind expire by their TTL); kept for compatibility.
func (k Keys) Version(id string) string { return k.doc + id + ":v" }

// Recent is the sorted set of an organization's ids by score (Payment:
// <ns>:org:<org>:recent, by createdAt).
func (k Keys) Recent(org string) string { return k.org + org + k.recent }

// CacheVersion is the organization's query-cache version counter (Payment:
// <ns>:org:<org>:cachever).
func (k Keys) CacheVersion(org string) string { return k.cvorg + org + k.cachever }

// InvalidateChannel is the pub/sub channel of invalidation messages, one
// per namespace.
func (k Keys) InvalidateChannel() string { return k.prefix + "invalidate" }

// Offset is the key holding the next offset to consume of topic/partition
// (the topic names the aggregate).
func (k Keys) Offset(topic string, partition int32) string {
	return k.vprefix + offsetRel(topic, partition)
}

// offsetRel is an offset key without its version's prefix.
func offsetRel(topic string, partition int32) string {
	return "sink:redis:offset:" + topic + ":" + strconv.FormatInt(int64(partition), 10)
}

var (
	keyWord     = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	keyName     = regexp.MustCompile(`^[A-Za-z0-9_]+(:[A-Za-z0-9_]+)*$`)
	versionWord = regexp.MustCompile(`^v[0-9]+$`)
	fieldName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ValidateLayout reports every problem of layout at once: names that are
// not [A-Za-z0-9_] words joined by ':' (Key and fields: one word), a Key
// taken by the sink's own keys or of the form v<N> (a version's prefix),
// the two per-organization names equal, or a field named "version" (the
// document's version field).
func ValidateLayout(layout projections.CacheLayout) error {
	var errs []error
	if !keyWord.MatchString(layout.Key) {
		errs = append(errs, fmt.Errorf("key part (Key) %q: want one [A-Za-z0-9_] word", layout.Key))
	}
	switch layout.Key {
	case "org", "sink", "invalidate":
		errs = append(errs, fmt.Errorf("key part (Key) %q: taken by the sink's own keys", layout.Key))
	}
	if versionWord.MatchString(layout.Key) {
		errs = append(errs, fmt.Errorf("key part (Key) %q: v<N> is the prefix of a store version's keys", layout.Key))
	}
	for _, n := range []struct{ what, v string }{{"recent index (Recent)", layout.Recent}, {"change counter (CacheVersion)", layout.CacheVersion}} {
		if !keyName.MatchString(n.v) {
			errs = append(errs, fmt.Errorf("%s %q: want [A-Za-z0-9_] words joined by ':'", n.what, n.v))
		}
	}
	if layout.Recent == layout.CacheVersion {
		errs = append(errs, fmt.Errorf("recent index and change counter have the same name %q", layout.Recent))
	}
	for _, n := range []struct{ what, v string }{{"organization field (OrganizationField)", layout.OrganizationField}, {"id field (IDField)", layout.IDField}} {
		switch {
		case !fieldName.MatchString(n.v):
			errs = append(errs, fmt.Errorf("%s %q: want a [A-Za-z_][A-Za-z0-9_]* name", n.what, n.v))
		case n.v == "version":
			errs = append(errs, fmt.Errorf("%s %q: the version field is the sink's", n.what, n.v))
		}
	}
	if layout.OrganizationField == layout.IDField {
		errs = append(errs, fmt.Errorf("organization and id fields have the same name %q", layout.IDField))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redis: cache layout: %w", err)
	}
	return nil
}
