// Package status computes what the status page of `prism serve` shows
// (GET /status, its JSON at GET /v1/status): the pipeline as the topology
// declares it (commands → processor → events → each sink → query
// service), per stage its throughput, lag (as `prism lag` computes it),
// health and dead-letter count, the latest rejected commands with their
// reasons and the rebuilds in progress. The page itself is embedded (web/).
package status

import (
	"time"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// Aggregate is one registered aggregate the page shows.
type Aggregate struct {
	Name  string         // singular: payment
	Names topology.Names // its topics and groups (Names.Aggregate set)
	// Results decodes its results topic; nil: no rejected commands listed.
	Results records.ResultDecoder
}

// Stage kinds.
const (
	KindTopic     = "topic"
	KindProcessor = "processor"
	KindSink      = "sink"
	KindQuery     = "query"
)

// Health values of a stage.
const (
	HealthOK          = "ok"
	HealthDown        = "down"        // a group without members, or every read source down
	HealthRebalancing = "rebalancing" // the group is moving partitions
	HealthMissing     = "missing"     // the topic does not exist
	HealthDegraded    = "degraded"    // some read sources down
	HealthError       = "error"       // the lag could not be read
)

// Snapshot is one reading of the pipeline: the JSON of GET /v1/status.
type Snapshot struct {
	Namespace string    `json:"namespace"`
	At        time.Time `json:"at"`
	// Interval is the number of seconds between this reading and the one
	// the rates are computed from (0 on the first: rates are null).
	Interval   float64           `json:"interval"`
	Aggregates []AggregateStatus `json:"aggregates"`
	// Query is the query service serving the page (nil outside serve).
	Query    *Stage    `json:"query,omitempty"`
	Rebuilds []Rebuild `json:"rebuilds"`
	// Warnings name the parts that could not be read this time (the rest
	// of the reading stands).
	Warnings []string `json:"warnings"`
}

// AggregateStatus is one aggregate's pipeline: its stages in the order
// records flow (commands, processor, events, the sinks in
// topology.SinkNames order) and its latest rejected commands, newest first.
type AggregateStatus struct {
	Name     string     `json:"name"`
	Plural   string     `json:"plural"`
	Stages   []Stage    `json:"stages"`
	Rejected []Rejected `json:"rejected"`
}

// Stage is one box of the pipeline.
type Stage struct {
	// ID is unique on the page: <plural>/commands, <plural>/processor,
	// <plural>/events, <plural>/sink/<sink>, query.
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Topic string `json:"topic,omitempty"` // a topic stage's topic; what a group reads
	Group string `json:"group,omitempty"`
	// Health is one of the Health constants; Detail says why when it is
	// not ok.
	Health string `json:"health"`
	Detail string `json:"detail,omitempty"`
	State  string `json:"state,omitempty"` // the group's state (Stable, Empty, Dead...)
	// Members counts a group's consumers (the query service: its read
	// sources that answer).
	Members int `json:"members"`
	// Offset is what the rate is computed from: a topic's end offsets, a
	// group's committed offsets, summed over partitions; the query
	// service's requests answered.
	Offset int64 `json:"offset"`
	// Rate is records (requests) per second since the previous reading;
	// null on the first reading or when the offsets went back.
	Rate *float64 `json:"rate"`
	// Lag is a group's total lag as `prism lag` prints it (transaction
	// markers settled); null for topics and when it is unknown.
	Lag *int64 `json:"lag"`
	// DLQ is the dead-letter count (end offset − log start): on the
	// processor its commands DLQ, on the events topic the events DLQ the
	// sinks write; null elsewhere.
	DLQ *int64 `json:"dlq"`
	// Sources are the query service's read sources.
	Sources []Source `json:"sources,omitempty"`
}

// Source is one read source of the query service.
type Source struct {
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
}

// QueryService is what the query service tells about itself.
type QueryService struct {
	Sources  []Source
	Requests int64 // requests answered so far (the rate's base)
}

// Rejected is one rejected command, as its results topic records it.
type Rejected struct {
	CommandID   string    `json:"commandId"`
	AggregateID string    `json:"aggregateId"`
	Reason      string    `json:"reason"`
	Message     string    `json:"message,omitempty"`
	Field       string    `json:"field,omitempty"`
	Time        time.Time `json:"time"`
	Partition   int32     `json:"partition"`
	Offset      int64     `json:"offset"`
}

// Rebuild is one rebuild that has not finished (rebuild.Status.Resumable).
type Rebuild struct {
	Aggregate string    `json:"aggregate"`
	Sink      string    `json:"sink"`
	Mode      string    `json:"mode"`
	Phase     string    `json:"phase"`
	Done      int64     `json:"done"`
	Total     int64     `json:"total"`
	StartedAt time.Time `json:"startedAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Error     string    `json:"error,omitempty"`
}
