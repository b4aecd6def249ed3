// Package replay copies a bounded range of records from one topic to
// another (`prism replay`): the commands DLQ back to the commands topic
// after a fix, for example. Keys, values and headers are copied byte for
// byte; replay headers say where each copy came from.
package replay

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/topology"
)

// Sentinel errors callers branch on. ErrRefused wraps every refusal of the
// configuration (the same topic, events onto events): `prism replay` exits
// 2 on it. ErrTopicNotFound is a topic missing on the cluster (exit 1).
var (
	ErrRefused       = errors.New("refused")
	ErrTopicNotFound = errors.New("topic does not exist")
)

// DefaultIdleTimeout is Config.IdleTimeout's default.
const DefaultIdleTimeout = 3 * time.Second

// Config is one replay run. The zero values of the optional fields mean:
// every partition, from the log start, to the end offsets listed at start,
// every key and type, no limit.
type Config struct {
	// Kafka are the client options (brokers, TLS, SASL); Run adds its own.
	// Required by Run (Validate does not look at it, so a command line can
	// be checked before connecting).
	Kafka []kgo.Opt
	// FromTopic is read, ToTopic written; they must differ.
	FromTopic, ToTopic string
	// Partitions narrows the source partitions (default: all of them).
	Partitions []int32
	// FromOffset (inclusive) and ToOffset (exclusive) bound the range on
	// every selected partition; -1 (or nil) means unset. A FromOffset
	// before the log start starts at the log start; a ToOffset past the
	// end stops at the end listed at start.
	FromOffset, ToOffset *int64
	// FromTime and ToTime bound the range by record timestamp: from the
	// first offset at or after FromTime to the first at or after ToTime
	// (exclusive), as ListOffsets resolves them. Not with the offsets.
	FromTime, ToTime time.Time
	// Keys keeps only the records with one of these keys (default: all).
	Keys []string
	// Types keeps only the records whose prism-type header is one of these.
	Types []string
	// Limit stops after copying (or, with DryRun, counting) this many
	// records; 0 means no limit.
	Limit int64
	// DryRun reads and counts what would be copied, writes nothing.
	DryRun bool
	// IdleTimeout ends a partition that delivers nothing for this long
	// before its end offset, once the broker still answers (its last
	// records are aborted transaction data or compacted away, which a
	// read_committed consumer never sees). Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// OnPlan, when set, is called once with the resolved ranges and the
	// run's id, before anything is read.
	OnPlan func(id string, ranges []Range)
	// OnRead, when set, is called for every data record read (progress);
	// it must not block.
	OnRead func()
	// Logger receives lifecycle lines (default slog.Default()).
	Logger *slog.Logger
}

// Validate reports every problem of the configuration at once; a refused
// combination wraps ErrRefused.
func (c Config) Validate() error {
	var errs []error
	if c.FromTopic == "" {
		errs = append(errs, errors.New("--from-topic is empty"))
	}
	if c.ToTopic == "" {
		errs = append(errs, errors.New("--to-topic is empty"))
	}
	if c.FromTopic != "" && c.FromTopic == c.ToTopic {
		errs = append(errs, fmt.Errorf("%w: --from-topic and --to-topic are both %s: a topic replayed into itself grows with every record it copies, and every consumer sees each record again",
			ErrRefused, c.FromTopic))
	}
	if IsEventsTopic(c.FromTopic) && strings.HasSuffix(c.ToTopic, ".events") {
		errs = append(errs, fmt.Errorf("%w: %s is an events topic and %s ends in .events: old events appended again would resurrect deleted aggregates (their tombstones come before the copies) in every sink and in the processor's restored state; fix a read source with a rebuild instead",
			ErrRefused, c.FromTopic, c.ToTopic))
	} else if IsEventsTopic(c.ToTopic) {
		errs = append(errs, fmt.Errorf("%w: %s is an events topic: only the processor writes it, in its transactions; events appended from elsewhere would resurrect deleted aggregates in every sink and corrupt the processor's restored state",
			ErrRefused, c.ToTopic))
	}
	offsets := c.FromOffset != nil || c.ToOffset != nil
	times := !c.FromTime.IsZero() || !c.ToTime.IsZero()
	if offsets && times {
		errs = append(errs, errors.New("a range by offsets (--from-offset, --to-offset) and by time (--from-datetime, --to-datetime): give one of them"))
	}
	if c.FromOffset != nil && *c.FromOffset < 0 {
		errs = append(errs, fmt.Errorf("--from-offset %d: want 0 or more", *c.FromOffset))
	}
	if c.ToOffset != nil && *c.ToOffset < 0 {
		errs = append(errs, fmt.Errorf("--to-offset %d: want 0 or more", *c.ToOffset))
	}
	if c.FromOffset != nil && c.ToOffset != nil && *c.ToOffset <= *c.FromOffset {
		errs = append(errs, fmt.Errorf("--to-offset %d is not after --from-offset %d (the range is [from, to))", *c.ToOffset, *c.FromOffset))
	}
	if !c.FromTime.IsZero() && !c.ToTime.IsZero() && !c.ToTime.After(c.FromTime) {
		errs = append(errs, fmt.Errorf("--to-datetime %s is not after --from-datetime %s", c.ToTime.Format(time.RFC3339Nano), c.FromTime.Format(time.RFC3339Nano)))
	}
	seen := map[int32]bool{}
	for _, p := range c.Partitions {
		if p < 0 {
			errs = append(errs, fmt.Errorf("--from-partitions %d: want 0 or more", p))
		}
		if seen[p] {
			errs = append(errs, fmt.Errorf("--from-partitions %d given twice", p))
		}
		seen[p] = true
	}
	if c.Limit < 0 {
		errs = append(errs, fmt.Errorf("--limit %d: want 0 (no limit) or more", c.Limit))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("idle timeout %s is negative", c.IdleTimeout))
	}
	return errors.Join(errs...)
}

// IsEventsTopic says whether name is a Prism events topic of some
// namespace: <ns>.<plural>.events with a valid namespace and aggregate name
// (topology/names.go builds them; neither part can hold a '.').
func IsEventsTopic(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) != 3 || parts[2] != "events" {
		return false
	}
	if topology.ValidateNamespace(parts[0]) != nil || topology.ValidateAggregateName(parts[1]) != nil {
		return false
	}
	return topology.NewNames(parts[0]).Aggregate(parts[1]).EventsTopic() == name
}
