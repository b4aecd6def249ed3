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

// Names are the names of everything Prism creates for one namespace. Every
// command that needs a topic, group, schema, index or key prefix asks Names;
// nothing else builds these strings.
type Names struct {
	Namespace string
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

func (n Names) topic(s string) string { return n.Namespace + "." + s }

func (n Names) CommandsTopic() string    { return n.topic("payments.commands") }
func (n Names) EventsTopic() string      { return n.topic("payments.events") }
func (n Names) ResultsTopic() string     { return n.topic("payments.command-results") }
func (n Names) CommandsDLQTopic() string { return n.topic("payments.commands.dlq") }
func (n Names) EventsDLQTopic() string   { return n.topic("payments.events.dlq") }

// ProcessorGroup is the consumer group of the command processor.
func (n Names) ProcessorGroup() string { return n.topic("processor.payments") }

// ProcessorTransactionalID is the prefix of the processor's transactional ids.
func (n Names) ProcessorTransactionalID() string { return n.topic("processor.payments.txn") }

// SinkGroup is the consumer group of the named sink (postgres, readmodels,
// redis, elasticsearch).
func (n Names) SinkGroup(sink string) string { return n.topic("sink." + sink) }

// PostgresSchema is the Postgres schema holding this namespace's tables:
// the namespace lower-cased with every character outside [a-z0-9_]
// replaced by '_' (for a valid namespace: '-' becomes '_').
func (n Names) PostgresSchema() string { return sanitize(n.Namespace, '_') }

// ElasticsearchAlias is the alias the query side reads; the sink writes to
// versioned indices behind it (ElasticsearchIndex(1), ...).
func (n Names) ElasticsearchAlias() string { return sanitize(n.Namespace, '-') + "-payments" }

// ElasticsearchIndex is version v of the payments index.
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
