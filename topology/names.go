package topology

import (
	"strconv"
	"strings"
)

// DefaultNamespace prefixes every topic, group, Postgres schema, index and
// Redis key unless the user picks another.
const DefaultNamespace = "prism"

// Names are the names of everything Prism creates for one namespace. Every
// command that needs a topic, group, schema, index or key prefix asks Names;
// nothing else builds these strings.
type Names struct {
	Namespace string
}

// NewNames returns the names for namespace ("" means DefaultNamespace).
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
// the namespace with every character outside [a-z0-9_] replaced by '_'.
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
