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
	prefix string
	// doc is <prefix><Key>:, org is <prefix>org:, recent and cachever are
	// :<Recent> and :<CacheVersion>: one concatenation per key.
	doc, org, recent, cachever string
}

// NewKeys returns the keys under names.RedisPrefix() laid out as layout
// says (see projections.CacheLayout). It does not check layout; NewTarget
// does (ValidateLayout).
func NewKeys(names topology.Names, layout projections.CacheLayout) Keys {
	p := names.RedisPrefix()
	return Keys{prefix: p, doc: p + layout.Key + ":", org: p + "org:", recent: ":" + layout.Recent, cachever: ":" + layout.CacheVersion}
}

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
func (k Keys) CacheVersion(org string) string { return k.org + org + k.cachever }

// InvalidateChannel is the pub/sub channel of invalidation messages, one
// per namespace.
func (k Keys) InvalidateChannel() string { return k.prefix + "invalidate" }

// Offset is the key holding the next offset to consume of topic/partition
// (the topic names the aggregate).
func (k Keys) Offset(topic string, partition int32) string {
	return k.prefix + "sink:redis:offset:" + topic + ":" + strconv.FormatInt(int64(partition), 10)
}

var (
	keyWord   = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	keyName   = regexp.MustCompile(`^[A-Za-z0-9_]+(:[A-Za-z0-9_]+)*$`)
	fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ValidateLayout reports every problem of layout at once: names that are
// not [A-Za-z0-9_] words joined by ':' (Key and fields: one word), a Key taken by
// the sink's own keys, the two per-organization names equal, or a field
// named "version" (the document's version field).
func ValidateLayout(layout projections.CacheLayout) error {
	var errs []error
	if !keyWord.MatchString(layout.Key) {
		errs = append(errs, fmt.Errorf("key part (Key) %q: want one [A-Za-z0-9_] word", layout.Key))
	}
	switch layout.Key {
	case "org", "sink", "invalidate":
		errs = append(errs, fmt.Errorf("key part (Key) %q: taken by the sink's own keys", layout.Key))
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
