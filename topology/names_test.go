package topology

import (
	"strings"
	"testing"
)

func TestValidateNamespace(t *testing.T) {
	for _, tc := range []struct {
		ns   string
		want string // "" = valid, else a fragment of the error
	}{
		{"prism", ""},
		{"ux-4", ""},
		{"0a", ""},
		{"tsinksredis0123abcd", ""},
		{strings.Repeat("a", MaxNamespaceLen), ""},
		{"", "empty"},
		{strings.Repeat("a", MaxNamespaceLen+1), "at most 48"},
		{"ux_4", `'_'`},
		{"UX4", `'U'`},
		{"a.b", `'.'`},
		{"-a", `'-'`},
		{"a b", `' '`},
		{"é", `'é'`},
	} {
		err := ValidateNamespace(tc.ns)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v, want valid", tc.ns, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want one containing %s", tc.ns, err, tc.want)
		}
	}
}

// TestDerivedNamesAreOneToOne checks on every valid namespace of up to three
// characters from a small alphabet that no two share a topic prefix, a
// Postgres schema, an Elasticsearch alias or a Redis prefix.
func TestDerivedNamesAreOneToOne(t *testing.T) {
	alphabet := []string{"a", "b", "0", "-"}
	var all []string
	var grow func(prefix string)
	grow = func(prefix string) {
		if len(prefix) == 3 {
			return
		}
		for _, c := range alphabet {
			ns := prefix + c
			if ValidateNamespace(ns) == nil {
				all = append(all, ns)
				grow(ns)
			}
		}
	}
	grow("")
	if len(all) < 30 {
		t.Fatalf("only %d namespaces generated", len(all))
	}
	seen := map[string]map[string]string{"schema": {}, "redis": {}}
	for _, ns := range all {
		n := NewNames(ns)
		for kind, name := range map[string]string{"schema": n.PostgresSchema(), "redis": n.RedisPrefix()} {
			if other, ok := seen[kind][name]; ok {
				t.Errorf("%s %q of namespace %q is also that of %q", kind, name, ns, other)
			}
			seen[kind][name] = ns
		}
	}
	// Per aggregate: the topic, group and alias names are one-to-one in
	// (namespace, aggregate), for aggregate names that pass the rule.
	plurals := []string{"a", "b", "ab", "a0", "payments"}
	seen = map[string]map[string]string{"topic": {}, "group": {}, "alias": {}}
	for _, ns := range all {
		for _, pl := range plurals {
			if err := ValidateAggregateName(pl); err != nil {
				t.Fatal(err)
			}
			n := NewNames(ns).Aggregate(pl)
			who := ns + "/" + pl
			for kind, name := range map[string]string{
				"topic": n.CommandsTopic(), "group": n.SinkGroup("redis"), "alias": n.ElasticsearchAlias(),
			} {
				if other, ok := seen[kind][name]; ok {
					t.Errorf("%s %q of %s is also that of %s", kind, name, who, other)
				}
				seen[kind][name] = who
			}
		}
	}
	// The mapping the rule is there for: these differ only by case or
	// punctuation and would share a store; the rule refuses one of each pair.
	for _, pair := range [][2]string{{"ux-4", "ux_4"}, {"ux4", "UX4"}, {"a-b", "a.b"}} {
		a, b := NewNames(pair[0]), NewNames(pair[1])
		if a.PostgresSchema() != b.PostgresSchema() && a.ElasticsearchAlias() != b.ElasticsearchAlias() {
			continue
		}
		if (ValidateNamespace(pair[0]) == nil) == (ValidateNamespace(pair[1]) == nil) {
			t.Errorf("%q and %q share a store but the rule accepts both or neither", pair[0], pair[1])
		}
	}
}

func TestValidateAggregateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"payments": true, "invoices": true, "v2": true, "": false, "a-b": false, "A": false, "2a": false,
		"a.b": false, "a_b": false, strings.Repeat("a", MaxAggregateNameLen): true, strings.Repeat("a", MaxAggregateNameLen+1): false,
	} {
		if err := ValidateAggregateName(name); (err == nil) != ok {
			t.Errorf("%q: %v, want valid=%v", name, err, ok)
		}
	}
}

func TestNamesPerAggregate(t *testing.T) {
	inv := NewNames("ns").Aggregate("invoices")
	pay := NewNames("ns").Aggregate("payments")
	for got, want := range map[string]string{
		inv.CommandsTopic():            "ns.invoices.commands",
		inv.EventsTopic():              "ns.invoices.events",
		inv.ResultsTopic():             "ns.invoices.command-results",
		inv.CommandsDLQTopic():         "ns.invoices.commands.dlq",
		inv.EventsDLQTopic():           "ns.invoices.events.dlq",
		inv.ProcessorGroup():           "ns.processor.invoices",
		inv.ProcessorTransactionalID(): "ns.processor.invoices.txn",
		inv.SinkGroup("postgres"):      "ns.sink.postgres.invoices",
		inv.ElasticsearchIndex(2):      "ns-invoices-v2",
		pay.SinkGroup("postgres"):      "ns.sink.postgres",
		pay.CommandsTopic():            "ns.payments.commands",
		pay.ElasticsearchAlias():       "ns-payments",
		pay.ProcessorTransactionalID(): "ns.processor.payments.txn",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a topic name without an aggregate did not panic")
		}
	}()
	_ = NewNames("ns").CommandsTopic()
}
