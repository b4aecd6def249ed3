package topology

// StageKind is what a stage does in the pipeline.
type StageKind string

const (
	KindProducer  StageKind = "producer"
	KindProcessor StageKind = "processor"
	KindSink      StageKind = "sink"
)

// Sink names, in the order the pipeline declares them. Names.SinkGroup(name)
// is each one's consumer group.
const (
	SinkPostgres      = "postgres"
	SinkReadModels    = "readmodels"
	SinkRedis         = "redis"
	SinkElasticsearch = "elasticsearch"
)

// SinkNames lists every sink.
var SinkNames = []string{SinkPostgres, SinkReadModels, SinkRedis, SinkElasticsearch}

// Stage is one program of the pipeline and what it touches: the topics it
// reads and writes, its consumer group (none for the producer) and the read
// source it writes (sinks).
type Stage struct {
	// Aggregate is the plural name of the aggregate the stage serves.
	Aggregate       string
	Name            string
	Kind            StageKind
	Group           string   // consumer group; "" for a stage without one
	TransactionalID string   // prefix of its transactional ids, if it uses transactions
	Reads           []string // topics consumed
	Restores        []string // topics read to rebuild state before consuming
	Writes          []string // topics produced to
	Targets         []string // read sources written (outside Kafka)
	Steps           []string // what happens to each record, in order
}

// StagesFor declares the stages of the aggregate n names: the producer,
// the processor (its group and transactional ids) and every sink of
// SinkNames (its group and the read source it writes).
func StagesFor(n Names) []Stage {
	pg := n.PostgresSchema()
	stages := []Stage{
		{
			Aggregate: n.Plural,
			Name:      "produce",
			Kind:      KindProducer,
			Reads:     []string{n.ResultsTopic()},
			Writes:    []string{n.CommandsTopic()},
			Steps:     []string{"validate JSON", "encode Avro", "produce (key = aggregate id)", "wait for result (optional)"},
		},
		{
			Aggregate:       n.Plural,
			Name:            "processor",
			Kind:            KindProcessor,
			Group:           n.ProcessorGroup(),
			TransactionalID: n.ProcessorTransactionalID(),
			Reads:           []string{n.CommandsTopic()},
			Restores:        []string{n.EventsTopic()},
			Writes:          []string{n.EventsTopic(), n.ResultsTopic(), n.CommandsDLQTopic()},
			Steps:           []string{"decode", "validate", "decide", "apply", "emit + commit (one transaction)"},
		},
	}
	// The tables and keys themselves are the aggregate's projections'
	// (docs/aggregates.md); the spec names where they live.
	targets := map[string][]string{
		SinkPostgres:      {"postgres schema " + pg + ": " + n.Plural + " table"},
		SinkReadModels:    {"postgres schema " + pg + ": " + n.Plural + " read models"},
		SinkRedis:         {"redis keys " + n.RedisPrefix() + "*"},
		SinkElasticsearch: {"elasticsearch alias " + n.ElasticsearchAlias()},
	}
	for _, s := range SinkNames {
		stages = append(stages, Stage{
			Aggregate: n.Plural,
			Name:      "sink " + s,
			Kind:      KindSink,
			Group:     n.SinkGroup(s),
			Reads:     []string{n.EventsTopic()},
			Writes:    []string{n.EventsDLQTopic()},
			Targets:   targets[s],
			Steps:     []string{"decode", "batch", "write idempotently with offsets", "dead-letter rejected records"},
		})
	}
	return stages
}
