package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/lag"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/topology"
)

// Defaults of Config.
const (
	DefaultRejected    = 20
	DefaultResultsScan = 500
	DefaultSettleWait  = time.Second
	DefaultMinInterval = time.Second
)

// Config configures a Collector. Zero values take the defaults.
type Config struct {
	// Kafka are the connection options (kafkaconn.Config.Opts); the
	// Collector opens its own clients with them.
	Kafka []kgo.Opt
	// Namespace names the rebuilds topic (topology.Names.RebuildsTopic);
	// "" is topology.DefaultNamespace.
	Namespace  string
	Aggregates []Aggregate
	// QueryService reports the query service's sources and requests;
	// nil: no query stage.
	QueryService func() QueryService
	// Rejected is how many rejected commands are kept per aggregate
	// (DefaultRejected); ResultsScan how many of the latest records of each
	// results partition are read to find them (DefaultResultsScan).
	Rejected, ResultsScan int
	// SettleWait bounds the read that settles transaction markers
	// (lag.SettleMarkers; DefaultSettleWait).
	SettleWait time.Duration
	// MinInterval: a Snapshot asked sooner than this after the previous
	// one returns that one (DefaultMinInterval), so that many open pages
	// cost the cluster one reading.
	MinInterval time.Duration
	Logger      *slog.Logger
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Kafka) == 0 {
		errs = append(errs, errors.New("no kafka options"))
	}
	if len(c.Aggregates) == 0 {
		errs = append(errs, errors.New("no aggregate"))
	}
	for i, a := range c.Aggregates {
		if a.Names.Plural == "" {
			errs = append(errs, fmt.Errorf("aggregate %d (%s): Names without the aggregate's plural", i, a.Name))
		}
	}
	if c.Rejected < 0 || c.ResultsScan < 0 || c.SettleWait < 0 || c.MinInterval < 0 {
		errs = append(errs, errors.New("negative count or duration"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("status config: %w", errors.Join(errs...))
	}
	return nil
}

// Collector reads the pipeline's state from Kafka. Its Snapshot is safe
// for concurrent use: concurrent callers share one reading.
type Collector struct {
	cfg    Config
	log    *slog.Logger
	cl     *kgo.Client
	adm    *kadm.Client
	states *rebuild.StateLog

	mu       sync.Mutex
	last     *Snapshot
	prev     map[string]int64 // stage id → offset of the last reading
	prevAt   time.Time
	settled  map[settleKey]settleVal
	rejected map[string]*rejectedLog // by plural
	rebuilds rebuildCache
}

type settleKey struct {
	group, topic string
	p            int32
}

type settleVal struct{ committed, end, lag int64 }

// rebuildCache keeps the rebuilds read at one end offset of the topic.
type rebuildCache struct {
	end  int64
	list []Rebuild
}

// New checks cfg and opens the Collector's Kafka client (no request is
// sent before the first Snapshot). Close releases it.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Namespace == "" {
		cfg.Namespace = topology.DefaultNamespace
	}
	if cfg.Rejected == 0 {
		cfg.Rejected = DefaultRejected
	}
	if cfg.ResultsScan == 0 {
		cfg.ResultsScan = DefaultResultsScan
	}
	if cfg.SettleWait == 0 {
		cfg.SettleWait = DefaultSettleWait
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = DefaultMinInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cl, err := kgo.NewClient(cfg.Kafka...)
	if err != nil {
		return nil, fmt.Errorf("status: kafka client: %w", err)
	}
	states, err := rebuild.NewStateLog(cfg.Kafka, topology.NewNames(cfg.Namespace).RebuildsTopic())
	if err != nil {
		cl.Close()
		return nil, err
	}
	c := &Collector{cfg: cfg, log: cfg.Logger, cl: cl, adm: kadm.NewClient(cl), states: states,
		settled: map[settleKey]settleVal{}, rejected: map[string]*rejectedLog{}, rebuilds: rebuildCache{end: -1}}
	for _, a := range cfg.Aggregates {
		c.rejected[a.Names.Plural] = &rejectedLog{next: map[int32]int64{}}
	}
	return c, nil
}

// Close closes the Kafka clients.
func (c *Collector) Close() {
	c.states.Close()
	c.cl.Close()
}

// Snapshot reads the pipeline now, or returns the reading taken less than
// MinInterval ago. Only a failure to reach the cluster (listing offsets,
// describing groups) is an error; a part that cannot be read (the rejected
// commands, the rebuilds) is named in Warnings and the rest stands.
func (c *Collector) Snapshot(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.last != nil && now.Sub(c.last.At) < c.cfg.MinInterval {
		return c.last, nil
	}
	s, err := c.read(ctx, now)
	if err != nil {
		return nil, err
	}
	c.last = s
	return s, nil
}

// read takes one reading and computes the rates against the previous one.
func (c *Collector) read(ctx context.Context, now time.Time) (*Snapshot, error) {
	s := &Snapshot{Namespace: c.cfg.Namespace, At: now.UTC(), Aggregates: []AggregateStatus{}, Rebuilds: []Rebuild{}, Warnings: []string{}}
	var groups []lag.Group
	var topics, dlqs []string
	for _, a := range c.cfg.Aggregates {
		n := a.Names
		groups = append(groups, lag.Groups(a.Name, n)...)
		topics = append(topics, n.CommandsTopic(), n.EventsTopic(), n.CommandsDLQTopic(), n.EventsDLQTopic())
		dlqs = append(dlqs, n.CommandsDLQTopic(), n.EventsDLQTopic())
	}
	rebuildsTopic := topology.NewNames(c.cfg.Namespace).RebuildsTopic()
	topics = append(topics, rebuildsTopic)

	rows, err := c.lagRows(ctx, groups)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	described, err := c.adm.DescribeGroups(ctx, names...)
	if err != nil && len(described) == 0 {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	ends, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	starts, err := c.adm.ListStartOffsets(ctx, dlqs...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}

	totals := map[string]lag.GroupTotal{}
	for _, t := range lag.Totals(rows) {
		totals[t.Group] = t
	}
	committed, rowErr := map[string]int64{}, map[string]error{}
	for _, r := range rows {
		if r.Err != nil && rowErr[r.Group] == nil {
			rowErr[r.Group] = r.Err
		}
		if r.Partition >= 0 && r.Committed > 0 {
			committed[r.Group] += r.Committed
		}
	}
	group := func(st *Stage, name, reads string) {
		st.Group, st.Topic = name, reads
		st.Offset = committed[name]
		if t, ok := totals[name]; ok && t.Lag >= 0 {
			l := t.Lag
			st.Lag = &l
		}
		d := described[name]
		st.State, st.Members = d.State, len(d.Members)
		switch {
		case errors.Is(d.Err, kerr.GroupIDNotFound) || errors.Is(rowErr[name], kerr.GroupIDNotFound):
			st.Health, st.Detail, st.State = HealthDown, "group "+name+" has never run", "Dead"
		case rowErr[name] != nil:
			st.Health, st.Detail = HealthError, "lag: "+rowErr[name].Error()
		case d.Err != nil:
			st.Health, st.Detail = HealthError, "describe group: "+d.Err.Error()
		case st.Members == 0:
			st.Health, st.Detail = HealthDown, "no member in group "+name+": its consumers are not running"
		case d.State == "PreparingRebalance" || d.State == "CompletingRebalance":
			st.Health, st.Detail = HealthRebalancing, "the group is rebalancing"
		default:
			st.Health = HealthOK
		}
	}
	topic := func(st *Stage, name string) {
		st.Topic = name
		sum, ok := sumOffsets(ends, name, nil)
		st.Offset = sum
		if ok {
			st.Health = HealthOK
		} else {
			st.Health, st.Detail = HealthMissing, "topic "+name+" does not exist (prism topology apply)"
		}
	}
	dlq := func(name string) *int64 {
		n, _ := sumOffsets(ends, name, starts)
		return &n
	}
	for _, a := range c.cfg.Aggregates {
		n := a.Names
		p := n.Plural
		as := AggregateStatus{Name: a.Name, Plural: p, Rejected: []Rejected{}}
		cmds := Stage{ID: p + "/commands", Kind: KindTopic, Name: "commands"}
		topic(&cmds, n.CommandsTopic())
		proc := Stage{ID: p + "/processor", Kind: KindProcessor, Name: "processor", DLQ: dlq(n.CommandsDLQTopic())}
		group(&proc, n.ProcessorGroup(), n.CommandsTopic())
		evs := Stage{ID: p + "/events", Kind: KindTopic, Name: "events", DLQ: dlq(n.EventsDLQTopic())}
		topic(&evs, n.EventsTopic())
		as.Stages = append(as.Stages, cmds, proc, evs)
		for _, sk := range topology.SinkNames {
			st := Stage{ID: p + "/sink/" + sk, Kind: KindSink, Name: sk}
			group(&st, n.SinkGroup(sk), n.EventsTopic())
			as.Stages = append(as.Stages, st)
		}
		if a.Results != nil {
			rej, err := c.rejected[p].update(ctx, c, a)
			if err != nil {
				c.log.Warn("status: read rejected commands", slog.String("topic", n.ResultsTopic()), slog.Any("error", err))
				s.Warnings = append(s.Warnings, "rejected commands of "+p+": "+err.Error())
			}
			if rej != nil {
				as.Rejected = rej
			}
		}
		s.Aggregates = append(s.Aggregates, as)
	}
	if c.cfg.QueryService != nil {
		q := c.cfg.QueryService()
		st := &Stage{ID: "query", Kind: KindQuery, Name: "query service", Offset: q.Requests, Sources: q.Sources}
		for _, src := range q.Sources {
			if src.Healthy {
				st.Members++
			}
		}
		switch {
		case len(q.Sources) == 0 || st.Members == len(q.Sources):
			st.Health = HealthOK
		case st.Members == 0:
			st.Health, st.Detail = HealthDown, "no read source answers"
		default:
			st.Health, st.Detail = HealthDegraded, fmt.Sprintf("%d of %d read sources answer", st.Members, len(q.Sources))
		}
		s.Query = st
	}
	rb, err := c.readRebuilds(ctx, ends, rebuildsTopic)
	if err != nil {
		c.log.Warn("status: read rebuilds", slog.String("topic", rebuildsTopic), slog.Any("error", err))
		s.Warnings = append(s.Warnings, "rebuilds: "+err.Error())
	}
	s.Rebuilds = rb
	c.rates(s, now)
	return s, nil
}

// lagRows is `prism lag`'s computation (cmd/prism/lag.go): Describe,
// FromLogStart, SettleMarkers, Label. A row whose committed and end
// offsets are those of the previous reading keeps its settled lag without
// a new read.
func (c *Collector) lagRows(ctx context.Context, groups []lag.Group) ([]lag.Row, error) {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	rows, err := lag.Describe(ctx, c.adm, names...)
	if err != nil {
		return nil, err
	}
	if rows, err = lag.FromLogStart(ctx, c.adm, rows, lag.Reads(groups)); err != nil {
		return nil, err
	}
	var known []settledRow
	for i, r := range rows {
		if r.Partition < 0 || r.Err != nil || r.Lag <= 0 {
			continue
		}
		if v, ok := c.settled[settleKey{r.Group, r.Topic, r.Partition}]; ok && v.committed == r.Committed && v.end == r.End {
			known = append(known, settledRow{i, v.lag})
			rows[i].Lag = 0 // not read again by SettleMarkers
		}
	}
	if rows, err = lag.SettleMarkers(ctx, c.cfg.Kafka, rows, c.cfg.SettleWait); err != nil {
		return nil, err
	}
	for _, k := range known {
		rows[k.i].Lag = k.lag
	}
	for _, r := range rows {
		if r.Partition >= 0 && r.Err == nil && r.Lag >= 0 && !r.Unsettled { // an unsettled row is read again
			c.settled[settleKey{r.Group, r.Topic, r.Partition}] = settleVal{r.Committed, r.End, r.Lag}
		}
	}
	return lag.Label(rows, groups), nil
}

type settledRow struct {
	i   int
	lag int64
}

// sumOffsets sums the offsets of topic's partitions (minus starts' when
// given: a count of records); ok is false when the topic does not exist.
func sumOffsets(ends kadm.ListedOffsets, topic string, starts kadm.ListedOffsets) (int64, bool) {
	ps, ok := ends[topic]
	if !ok {
		return 0, false
	}
	var sum int64
	exists := false
	for p, o := range ps {
		if o.Err != nil || p < 0 {
			continue
		}
		exists = true
		n := o.Offset
		if starts != nil {
			if s, ok := starts.Lookup(topic, p); ok && s.Err == nil {
				n -= s.Offset
			}
		}
		sum += n
	}
	return sum, exists
}

// readRebuilds returns the rebuilds not finished, read again only when
// the rebuilds topic's end offset moved.
func (c *Collector) readRebuilds(ctx context.Context, ends kadm.ListedOffsets, topic string) ([]Rebuild, error) {
	end := int64(0)
	if o, ok := ends.Lookup(topic, 0); ok && o.Err == nil {
		end = o.Offset
	}
	if end == c.rebuilds.end {
		return c.rebuilds.list, nil
	}
	out := []Rebuild{}
	if end > 0 {
		all, err := c.states.All(ctx)
		if err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				err = nil
			}
			return out, err
		}
		for _, st := range all {
			if !st.Resumable() {
				continue
			}
			out = append(out, Rebuild{Aggregate: st.Aggregate, Sink: st.Sink, Mode: st.Mode, Phase: st.Phase,
				Done: st.Done, Total: st.Total, StartedAt: st.StartedAt, UpdatedAt: st.UpdatedAt, Error: st.Error})
		}
		sort.Slice(out, func(i, j int) bool {
			return out[i].Aggregate+"/"+out[i].Sink < out[j].Aggregate+"/"+out[j].Sink
		})
	}
	c.rebuilds = rebuildCache{end: end, list: out}
	return out, nil
}

// rates sets every stage's rate from the previous reading's offsets.
func (c *Collector) rates(s *Snapshot, now time.Time) {
	stages := []*Stage{}
	for i := range s.Aggregates {
		for j := range s.Aggregates[i].Stages {
			stages = append(stages, &s.Aggregates[i].Stages[j])
		}
	}
	if s.Query != nil {
		stages = append(stages, s.Query)
	}
	dt := now.Sub(c.prevAt).Seconds()
	if c.prev != nil && dt > 0 {
		s.Interval = dt
	}
	cur := make(map[string]int64, len(stages))
	for _, st := range stages {
		cur[st.ID] = st.Offset
		if before, ok := c.prev[st.ID]; ok && s.Interval > 0 && st.Offset >= before {
			r := float64(st.Offset-before) / dt
			st.Rate = &r
		}
	}
	c.prev, c.prevAt = cur, now
}
