package lag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Measure is what `prism lag` prints: the rows of groups (Describe), the
// lag of a group that never committed counted from the log start
// (FromLogStart), the commit markers settled (SettleMarkers, waiting at
// most wait), every row labelled with the aggregate of known.
func Measure(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, groups []string, known []Group, wait time.Duration) ([]Row, error) {
	rows, err := Describe(ctx, adm, groups...)
	if err != nil {
		return nil, err
	}
	if rows, err = FromLogStart(ctx, adm, rows, Reads(known)); err != nil {
		return nil, err
	}
	if rows, err = SettleMarkers(ctx, opts, rows, wait); err != nil {
		return nil, err
	}
	return Label(rows, known), nil
}

// CollectorConfig configures a Collector.
type CollectorConfig struct {
	Admin  *kadm.Client
	Opts   []kgo.Opt // the Kafka client options, for SettleMarkers' own client
	Groups []Group   // the groups to measure; Reads empty for a group outside the pipeline
	// Timeout bounds one measure (default 8 s, under Prometheus' default
	// scrape timeout of 10 s); markers are settled within a quarter of it.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Collector exports, on every scrape, the lag `prism lag` prints:
//
//	prism_group_lag_records{aggregate,group,partition}  records the group has not read yet (gauge)
//	prism_lag_up                                        1 when the last measure succeeded, else 0
//
// A partition whose lag cannot be measured (its row has an error) has no
// sample. A group of the pipeline is measured on the topic it reads; a
// group outside it (Reads empty, aggregate "") on every topic it committed
// to, summed per partition number. When the cluster cannot be reached, the scrape has no lag sample
// and prism_lag_up is 0; the error is logged. Concurrent scrapes wait for
// one another: each measures the cluster once.
type Collector struct {
	cfg   CollectorConfig
	ctx   context.Context
	mu    sync.Mutex
	lag   *prometheus.Desc
	up    *prometheus.Desc
	grps  []string
	known []Group           // the groups of the pipeline (Reads set)
	reads map[string]string // group → the topic it reads
}

// NewCollector returns a collector that measures within ctx: once ctx is
// done, a scrape reports prism_lag_up 0.
func NewCollector(ctx context.Context, cfg CollectorConfig) (*Collector, error) {
	var errs []error
	if cfg.Admin == nil {
		errs = append(errs, errors.New("lag collector: Admin is nil"))
	}
	if len(cfg.Groups) == 0 {
		errs = append(errs, errors.New("lag collector: no group to measure"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 8 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Collector{cfg: cfg, ctx: ctx,
		lag: prometheus.NewDesc("prism_group_lag_records",
			"Records a consumer group of the pipeline has not read yet, per partition of the topic it reads, as `prism lag` computes it (commit markers settled; a group that never committed counts from the log start).",
			[]string{"aggregate", "group", "partition"}, nil),
		up: prometheus.NewDesc("prism_lag_up",
			"1 when the last lag measure reached the cluster, 0 when it failed (the error is logged).", nil, nil),
	}
	for _, g := range cfg.Groups {
		c.grps = append(c.grps, g.Name)
		if g.Reads != "" {
			c.known = append(c.known, g)
		}
	}
	c.reads = Reads(c.known)
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.up
}

// Collect implements prometheus.Collector: it measures the lag now.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
	defer cancel()
	rows, err := Measure(ctx, c.cfg.Admin, c.cfg.Opts, c.grps, c.known, c.cfg.Timeout/4)
	if err != nil {
		c.cfg.Logger.Warn("measure lag", "err", fmt.Errorf("lag collector: %w", err))
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	type series struct {
		aggregate, group string
		partition        int32
	}
	lags := map[series]int64{}
	var order []series
	for _, r := range rows {
		if r.Partition < 0 || r.Err != nil || r.Lag < 0 {
			continue
		}
		// A pipeline group's offsets on another topic than the one it
		// reads are not the pipeline's.
		if want := c.reads[r.Group]; want != "" && r.Topic != want {
			continue
		}
		k := series{r.Aggregate, r.Group, r.Partition}
		if _, ok := lags[k]; !ok {
			order = append(order, k)
		}
		lags[k] += r.Lag // several topics only for a group outside the pipeline
	}
	for _, k := range order {
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(lags[k]),
			k.aggregate, k.group, strconv.Itoa(int(k.partition)))
	}
}
