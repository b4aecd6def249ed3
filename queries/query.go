package queries

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Level says which cache level served an answer.
type Level string

// The cache levels of an answer: L1 (in process), L2 (Redis) or Miss (the
// handler, that is the read source, answered).
const (
	L1   Level = "L1"
	L2   Level = "L2"
	Miss Level = "miss"
)

// Scope is the set of organizations a caller may see. A query is always
// scoped: either to every organization (an operator) or to a non-empty
// list of organizations. Build one with AllOrganizations or Organizations.
type Scope struct {
	all  bool
	orgs []string
}

// AllOrganizations is the scope of an operator: every organization.
func AllOrganizations() Scope { return Scope{all: true} }

// Organizations is the scope of the given organizations (sorted and
// deduplicated; order does not matter). It fails for no organization or an
// empty id.
func Organizations(ids ...string) (Scope, error) {
	if len(ids) == 0 {
		return Scope{}, errors.New("queries: a scope needs at least one organization")
	}
	orgs := slices.Clone(ids)
	slices.Sort(orgs)
	orgs = slices.Compact(orgs)
	if orgs[0] == "" {
		return Scope{}, errors.New("queries: empty organization id in scope")
	}
	return Scope{orgs: orgs}, nil
}

// All reports whether the scope is every organization.
func (s Scope) All() bool { return s.all }

// Orgs returns the scope's organizations, sorted (nil for All). The slice
// is the scope's own: do not modify it.
func (s Scope) Orgs() []string { return s.orgs }

// valid reports whether s was built by AllOrganizations or Organizations.
func (s Scope) valid() bool { return s.all || len(s.orgs) > 0 }

// Key is the scope's part of a cache key: "all" for every organization,
// "org=<id>" for one organization, "orgs=<hash>" (the first 16 bytes of the
// SHA-256 of the sorted ids joined by "\n", hex) for several. The three
// forms cannot collide, so two scopes never share an entry.
func (s Scope) Key() string {
	switch {
	case s.all:
		return "all"
	case len(s.orgs) == 1:
		return "org=" + s.orgs[0]
	default:
		sum := sha256.Sum256([]byte(strings.Join(s.orgs, "\n")))
		return "orgs=" + hex.EncodeToString(sum[:16])
	}
}

// Query is one typed query: its type name, its normalized parameters and
// the caller's scope. Build it with NewQuery.
type Query struct {
	// Type names the query (and its handler), e.g. "payments.byId".
	Type string
	// Params are the parameters as the handler reads them. Normalizing
	// them (defaults filled in, values validated and canonical) is the
	// caller's part, so that equal questions have equal parameters; the
	// bus only makes the key independent of the parameters' order.
	Params url.Values
	// Scope is the caller's organizations.
	Scope Scope
	// Consistency asks for a fresh answer (read-your-writes); not part of
	// the cache key: a query with one bypasses the cache.
	Consistency Consistency
}

// NewQuery checks and copies a query: typ is one or more [A-Za-z0-9_.-]
// characters, scope is valid; parameters without a value are dropped.
func NewQuery(typ string, params url.Values, scope Scope) (Query, error) {
	if err := checkType(typ); err != nil {
		return Query{}, err
	}
	if !scope.valid() {
		return Query{}, fmt.Errorf("queries: query %s has no scope", typ)
	}
	p := make(url.Values, len(params))
	for k, vs := range params {
		if len(vs) > 0 {
			p[k] = slices.Clone(vs)
		}
	}
	return Query{Type: typ, Params: p, Scope: scope}, nil
}

func checkType(typ string) error {
	if typ == "" {
		return errors.New("queries: empty query type")
	}
	for _, r := range typ {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return fmt.Errorf("queries: query type %q: only [A-Za-z0-9_.-] allowed", typ)
		}
	}
	return nil
}

// ParamsHash is the hash of the normalized parameters: the first 16 bytes
// of the SHA-256 of their canonical form (url.Values.Encode: keys sorted,
// each value escaped, a key's values in their order), hex (32 characters).
func (q Query) ParamsHash() string {
	sum := sha256.Sum256([]byte(q.Params.Encode()))
	return hex.EncodeToString(sum[:16])
}

// Key is the query's cache key under the namespace ns:
//
//	<ns>:q:<Type>:<Scope.Key()>:<ParamsHash()>
//
// The same key names the L1 and the L2 entry.
func (q Query) Key(ns string) string {
	return ns + ":q:" + q.Type + ":" + q.Scope.Key() + ":" + q.ParamsHash()
}

// Answer is a query's answer.
type Answer struct {
	// JSON is the answer's body, opaque to the bus and the cache. Cached
	// answers share it: never modify it.
	JSON []byte
	// Source names the read source that produced it, one word without
	// newline (e.g. "redis", "postgres"); kept with the cached answer.
	Source string
	// Cache is the level that served it.
	Cache Level
}
