package topology

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultNamespace prefixes every topic, group, Postgres schema, index and
// Redis key unless the user picks another.
const DefaultNamespace = "prism"

// MaxNamespaceLen bounds a namespace so that every derived name fits its
// target (a Postgres identifier has at most 63 bytes).
const MaxNamespaceLen = 48

// ValidateNamespace enforces the one namespace rule of every command: 1 to
// MaxNamespaceLen characters from [a-z0-9-], starting with a letter or a
// digit. Under this rule every derived name is a one-to-one function of the
// namespace: the Postgres schema only turns '-' into '_' (which a namespace
// cannot hold), the Elasticsearch alias keeps the namespace as it is, so two
// namespaces never share a store. Names that differ only by case or by
// '-', '_', '.' (ux-4 and ux_4, UX4 and ux4, a.b and a_b) would otherwise map
// to the same schema and alias.
func ValidateNamespace(ns string) error {
	if ns == "" {
		return fmt.Errorf("namespace is empty: want 1 to %d characters from a-z, 0-9 and '-'", MaxNamespaceLen)
	}
	if len(ns) > MaxNamespaceLen {
		return fmt.Errorf("namespace %q has %d characters: want at most %d", ns, len(ns), MaxNamespaceLen)
	}
	for i, r := range ns {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || (r == '-' && i > 0)
		if !ok {
			return fmt.Errorf("namespace %q: character %q at %d is not allowed: want a-z, 0-9 and '-' (not first), so that its Postgres schema and Elasticsearch alias are its own", ns, r, i+1)
		}
	}
	return nil
}

// Names are the names of everything Prism creates for one namespace and,
// once Aggregate has chosen one, for one aggregate type of it. Every command
// that needs a topic, group, schema, index or key prefix asks Names; nothing
// else builds these strings. The topic, group and index names are
// <ns>.<plural>.<role> and the like, with plural the aggregate's plural name
// ("payments", "invoices"); docs/aggregates.md lists them.
type Names struct {
	Namespace string
	// Plural is the aggregate's plural name the topic, group and index names
	// are built from; empty until Aggregate sets it.
	Plural string
}

// NewNames returns the names for namespace ("" means DefaultNamespace). It
// does not check the namespace: commands call ValidateNamespace first, and
// the sinks record the owning namespace in their store so that two Names
// mapping to one store are refused at setup.
func NewNames(namespace string) Names {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return Names{Namespace: namespace}
}

// Aggregate returns the names of the aggregate with the given plural name
// ("payments") in n's namespace. The plural must pass ValidateAggregateName.
func (n Names) Aggregate(plural string) Names {
	n.Plural = plural
	return n
}

// MaxAggregateNameLen bounds an aggregate's name so that every derived name
// still fits its target.
const MaxAggregateNameLen = 32

// ValidateAggregateName enforces the rule for an aggregate's singular and
// plural names: 1 to MaxAggregateNameLen characters from [a-z0-9],
// starting with a letter. They go into topic, group, index and key names;
// without '-' (which a namespace may hold) the Elasticsearch alias
// <ns>-<plural> stays one-to-one in (namespace, aggregate).
func ValidateAggregateName(name string) error {
	if name == "" || len(name) > MaxAggregateNameLen {
		return fmt.Errorf("aggregate name %q: want 1 to %d characters from a-z and 0-9", name, MaxAggregateNameLen)
	}
	for i, r := range name {
		ok := (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("aggregate name %q: character %q at %d is not allowed: want a-z first, then a-z and 0-9", name, r, i+1)
		}
	}
	return nil
}

// plural is the aggregate part of a name; it panics when Aggregate was not
// called, a programming error (a topic name without its aggregate would
// silently be another pipeline's).
func (n Names) plural() string {
	if n.Plural == "" {
		panic("topology: Names used for a topic, group or index without Aggregate(plural)")
	}
	return n.Plural
}

func (n Names) topic(s string) string { return n.Namespace + "." + s }

func (n Names) CommandsTopic() string    { return n.topic(n.plural() + ".commands") }
func (n Names) EventsTopic() string      { return n.topic(n.plural() + ".events") }
func (n Names) ResultsTopic() string     { return n.topic(n.plural() + ".command-results") }
func (n Names) CommandsDLQTopic() string { return n.topic(n.plural() + ".commands.dlq") }
func (n Names) EventsDLQTopic() string   { return n.topic(n.plural() + ".events.dlq") }

// RebuildsTopic is the namespace's compacted topic where `prism rebuild`
// records each rebuild's state (package rebuild, state.go): one record per
// aggregate and sink, so an interrupted rebuild can be shown and resumed.
func (n Names) RebuildsTopic() string { return n.topic("rebuilds") }

// ProcessorGroup is the consumer group of the aggregate's command processor.
func (n Names) ProcessorGroup() string { return n.topic("processor." + n.plural()) }

// ProcessorTransactionalID is the prefix of the processor's transactional ids.
func (n Names) ProcessorTransactionalID() string { return n.topic("processor." + n.plural() + ".txn") }

// legacyGroupPlural is the aggregate whose sink groups keep the names they
// had before Prism ran more than one aggregate (<ns>.sink.<sink>), so that an
// existing Payment pipeline keeps its groups.
const legacyGroupPlural = "payments"

// SinkGroup is the consumer group of the named sink (postgres, readmodels,
// redis, elasticsearch) for this aggregate: <ns>.sink.<sink>.<plural>, and
// <ns>.sink.<sink> for payments (the names of the single-aggregate
// releases, kept so a running pipeline keeps its groups).
func (n Names) SinkGroup(sink string) string {
	if n.plural() == legacyGroupPlural {
		return n.topic("sink." + sink)
	}
	return n.topic("sink." + sink + "." + n.plural())
}

// PostgresSchema is the Postgres schema holding this namespace's tables:
// the namespace lower-cased with every character outside [a-z0-9_]
// replaced by '_' (for a valid namespace: '-' becomes '_').
func (n Names) PostgresSchema() string { return sanitize(n.Namespace, '_') }

// ElasticsearchAlias is the alias the query side reads for this aggregate;
// the sink writes to versioned indices behind it (ElasticsearchIndex(1), ...).
func (n Names) ElasticsearchAlias() string { return sanitize(n.Namespace, '-') + "-" + n.plural() }

// ElasticsearchIndex is version v of the aggregate's index.
func (n Names) ElasticsearchIndex(v int) string {
	return n.ElasticsearchAlias() + "-v" + strconv.Itoa(v)
}

// RedisPrefix prefixes every Redis key of this namespace.
func (n Names) RedisPrefix() string { return n.Namespace + ":" }

func sanitize(s string, repl rune) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r == '_' && repl == '_':
			return r
		}
		return repl
	}, s)
}
