package rebuild

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
)

// ErrLiveMembers: an in-place rebuild found the sink's group with live
// members (running sinks would write into the target while it is cleared).
var ErrLiveMembers = errors.New("the sink's consumer group has live members")

// ErrNothingToResume: --resume found no unfinished rebuild recorded.
var ErrNothingToResume = errors.New("no unfinished rebuild to resume")

// Executor runs one rebuild of one Store (one sink of one aggregate).
type Executor struct {
	Store     Store
	KafkaOpts []kgo.Opt
	Admin     *kadm.Client
	// Namespace and Aggregate (plural) name the rebuild in the state log.
	Namespace, Aggregate string
	Topic                string // the aggregate's events topic
	Group                string // the sink's consumer group
	Codec                records.EventDecoder
	State                *StateLog
	// BatchMaxRecords bounds one write (default DefaultBatchMaxRecords).
	BatchMaxRecords int
	// StopTimeout is how long an in-place rebuild waits for the group's
	// members to leave (0: refuse at once).
	StopTimeout time.Duration
	// KeepOld keeps version N after a side-by-side switch.
	KeepOld bool
	// Projections narrows a side-by-side rebuild of a readmodels store to
	// these projections (ModeProjection).
	Projections []string
	// NewProgress shows the progress of a build over total records.
	NewProgress func(label string, total int64) *Progress
	Logger      *slog.Logger
	// SaveEvery is how often the state is recorded while building
	// (default 2s).
	SaveEvery time.Duration
}

func (e *Executor) log() *slog.Logger { return cmp.Or(e.Logger, slog.Default()) }

// label names the rebuild in logs and on the bar.
func (e *Executor) label() string { return e.Aggregate + "/" + e.Store.Sink() }

// InPlace rebuilds the serving version from plan (resume: continues st).
func (e *Executor) InPlace(ctx context.Context, plan Plan, resume *Status) (*Status, error) {
	if err := e.waitNoMembers(ctx); err != nil {
		return nil, err
	}
	v, err := e.Store.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: current version: %w", e.label(), err)
	}
	var st *Status
	var from map[int32]int64
	if resume != nil {
		st = resume
		if st.ToVersion != v {
			return nil, fmt.Errorf("%s: the interrupted rebuild wrote version %d but version %d serves now: roll it back or rebuild again without --resume", e.label(), st.ToVersion, v)
		}
		if from, err = e.resumeFrom(ctx, *st); err != nil {
			return nil, err
		}
	} else {
		st = e.newStatus(ModeInPlace, plan.Spec, v, v)
		from = map[int32]int64{}
		for _, pp := range plan.Partitions {
			from[pp.Partition] = pp.From
		}
		st.Start = maps.Clone(from)
		if err := e.prepareInPlace(ctx, plan, v, from); err != nil {
			return nil, err
		}
	}
	t, err := e.Store.Target(v)
	if err != nil {
		return nil, fmt.Errorf("%s: target of version %d: %w", e.label(), v, err)
	}
	defer t.Close()
	if err := t.Setup(ctx); err != nil {
		return nil, fmt.Errorf("%s: set up version %d: %w", e.label(), v, err)
	}
	b, err := NewBuilder(e.builderConfig(t), from)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	end, err := e.ends(ctx, from)
	if err != nil {
		return nil, err
	}
	if err := e.build(ctx, b, st, end, nil); err != nil {
		return st, err
	}
	// Running sinks start where the rebuild ended: targets storing offsets
	// have them already, the group's commits are for the others.
	if err := e.commitGroup(ctx, b.Position()); err != nil {
		e.log().Warn("rebuild done, but the sink group's offsets were not moved to its end; targets that keep their own offsets are not affected",
			"group", e.Group, "err", err)
	}
	return st, e.finish(ctx, st, PhaseDone, nil)
}

// prepareInPlace clears the serving version (a full range from the log
// start) or forgets the aggregates the range holds (a later start, or
// some partitions only).
func (e *Executor) prepareInPlace(ctx context.Context, plan Plan, v int, from map[int32]int64) error {
	full, err := e.coversAll(ctx, plan)
	if err != nil {
		return err
	}
	if full {
		e.log().Info("rebuild: clearing the target (the range starts at the log start of every partition)", "rebuild", e.label(), "version", v)
		if err := e.Store.Clear(ctx, v, e.Topic, nil); err != nil {
			return fmt.Errorf("%s: clear version %d: %w", e.label(), v, err)
		}
		return nil
	}
	if err := e.Store.Forget(ctx, v, e.Topic, nil, nil); err != nil {
		return fmt.Errorf("%s: a rebuild from %s: %w", e.label(), plan.Spec, err)
	}
	until := map[int32]int64{}
	for _, pp := range plan.Partitions {
		until[pp.Partition] = pp.To
	}
	ids, err := ScanKeys(ctx, e.KafkaOpts, e.Topic, from, until)
	if err != nil {
		return err
	}
	e.log().Info("rebuild: forgetting the aggregates the range rewrites", "rebuild", e.label(), "version", v, "aggregates", len(ids))
	if err := e.Store.Forget(ctx, v, e.Topic, ids, from); err != nil {
		return fmt.Errorf("%s: forget %d aggregates in version %d: %w", e.label(), len(ids), v, err)
	}
	return nil
}

// coversAll reports whether plan starts every partition of the topic at
// its log start.
func (e *Executor) coversAll(ctx context.Context, plan Plan) (bool, error) {
	starts, err := e.Admin.ListStartOffsets(ctx, e.Topic)
	if err != nil {
		return false, fmt.Errorf("list start offsets of %s: %w", e.Topic, err)
	}
	n := 0
	starts.Each(func(o kadm.ListedOffset) { n++ })
	return len(plan.Partitions) == n && plan.FromLogStart(), nil
}

// SideBySide builds version N+1 from the log start while N serves, then
// switches (resume: continues st).
func (e *Executor) SideBySide(ctx context.Context, resume *Status) (*Status, error) {
	cur, err := e.Store.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: current version: %w", e.label(), err)
	}
	mode := ModeSideBySide
	if len(e.Projections) > 0 {
		mode = ModeProjection
	}
	var st *Status
	var from map[int32]int64
	if resume != nil {
		st = resume
		if st.FromVersion != cur {
			return nil, fmt.Errorf("%s: the interrupted rebuild started from version %d but version %d serves now: roll it back", e.label(), st.FromVersion, cur)
		}
		e.Projections = st.Projections
		if from, err = e.resumeFrom(ctx, *st); err != nil {
			return nil, err
		}
	} else {
		st = e.newStatus(mode, "--to-earliest", cur, cur+1)
		st.Projections = e.Projections
		vs, err := e.Store.Versions(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: versions: %w", e.label(), err)
		}
		if slices.Contains(vs, cur+1) {
			e.log().Warn("rebuild: dropping a left-over version before building it again", "rebuild", e.label(), "version", cur+1)
			if err := e.Store.Drop(ctx, cur+1); err != nil {
				return nil, fmt.Errorf("%s: drop left-over version %d: %w", e.label(), cur+1, err)
			}
		}
		starts, err := e.Admin.ListStartOffsets(ctx, e.Topic)
		if err != nil {
			return nil, fmt.Errorf("list start offsets of %s: %w", e.Topic, err)
		}
		from = map[int32]int64{}
		starts.Each(func(o kadm.ListedOffset) { from[o.Partition] = o.Offset })
		st.Start = maps.Clone(from)
	}
	to := st.ToVersion
	t, err := e.Store.Target(to)
	if err != nil {
		return nil, fmt.Errorf("%s: target of version %d: %w", e.label(), to, err)
	}
	defer t.Close()
	if err := t.Setup(ctx); err != nil {
		return nil, fmt.Errorf("%s: set up version %d: %w", e.label(), to, err)
	}
	b, err := NewBuilder(e.builderConfig(t), from)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	// Build, chasing the serving version: never beyond its stored offsets
	// when it keeps them (so that the switch can make both equal), to the
	// end otherwise; done when a round finds less than a batch to write.
	bound := func(ctx context.Context) (map[int32]int64, error) {
		live, err := e.Store.LiveOffsets(ctx, cur, e.Topic)
		if err != nil {
			return nil, fmt.Errorf("%s: offsets of version %d: %w", e.label(), cur, err)
		}
		if live == nil {
			return e.ends(ctx, from)
		}
		return fill(live, st.Start), nil
	}
	end, err := bound(ctx)
	if err != nil {
		return st, e.finish(ctx, st, PhaseFailed, err)
	}
	if err := e.build(ctx, b, st, end, bound); err != nil {
		return st, err
	}
	st.Phase = PhaseSwitching
	e.save(ctx, st)
	e.log().Info("rebuild: version built; switching", "rebuild", e.label(), "from", cur, "to", to, "projections", e.Projections)
	sw := Switch{Topic: e.Topic, From: cur, To: to, Projections: e.Projections, KeepOld: e.KeepOld,
		CatchUp: func(ctx context.Context, until map[int32]int64) error {
			if until == nil {
				var err error
				if until, err = e.ends(ctx, from); err != nil {
					return err
				}
			} else {
				until = fill(until, st.Start)
			}
			_, err := b.RunTo(ctx, until)
			return err
		}}
	if err := e.Store.Switch(ctx, sw); err != nil {
		return st, e.finish(ctx, st, PhaseFailed, fmt.Errorf("%s: switch from version %d to %d: %w", e.label(), cur, to, err))
	}
	st.Position = b.Position()
	return st, e.finish(ctx, st, PhaseDone, nil)
}

// Rollback drops the version an unfinished side-by-side rebuild wrote.
func (e *Executor) Rollback(ctx context.Context, st Status) error {
	if st.Mode == ModeInPlace {
		return fmt.Errorf("%s: an in-place rebuild cannot be rolled back (the target was cleared): resume it with --resume", e.label())
	}
	cur, err := e.Store.Current(ctx)
	if err != nil {
		return fmt.Errorf("%s: current version: %w", e.label(), err)
	}
	if cur == st.ToVersion {
		return fmt.Errorf("%s: version %d already serves (the switch happened): nothing to roll back", e.label(), cur)
	}
	if err := e.Store.Drop(ctx, st.ToVersion); err != nil {
		return fmt.Errorf("%s: drop version %d: %w", e.label(), st.ToVersion, err)
	}
	st.Phase = PhaseRolledBack
	st.Error = ""
	e.save(ctx, &st)
	return nil
}

// build runs b to end (refreshed by bound after each round when bound is
// set), recording progress; a signal or an error is recorded as the
// rebuild's phase.
func (e *Executor) build(ctx context.Context, b *Builder, st *Status, end map[int32]int64, bound func(context.Context) (map[int32]int64, error)) error {
	total := int64(0)
	for p, o := range end {
		total += max(o-b.pos[p], 0)
	}
	st.Total = st.Done + total
	st.Phase = PhaseBuilding
	st.Error = ""
	e.save(ctx, st)
	var prog *Progress
	if e.NewProgress != nil {
		prog = e.NewProgress(e.label(), total)
	}
	every := cmp.Or(e.SaveEvery, 2*time.Second)
	last := time.Now()
	b.cfg.OnWritten = func(n int) {
		st.Done += int64(n)
		if prog != nil {
			prog.Add(n)
		}
		if time.Since(last) >= every {
			last = time.Now()
			st.Position, st.Rejected = b.Position(), b.Rejected
			e.save(ctx, st)
		}
	}
	for {
		n, err := b.RunTo(ctx, end)
		if err != nil {
			st.Position, st.Rejected = b.Position(), b.Rejected
			phase := PhaseFailed
			if ctx.Err() != nil {
				phase, err = PhaseInterrupted, fmt.Errorf("%s: interrupted: %w", e.label(), ctx.Err())
			}
			return e.finish(ctx, st, phase, err)
		}
		if bound == nil || n < int64(b.cfg.BatchMaxRecords) {
			break
		}
		if end, err = bound(ctx); err != nil {
			return e.finish(ctx, st, PhaseFailed, err)
		}
	}
	if prog != nil {
		prog.Finish()
	}
	st.Position, st.Rejected = b.Position(), b.Rejected
	e.save(ctx, st)
	return nil
}

// finish records the final phase (with a context of its own: ctx may be
// cancelled) and returns err.
func (e *Executor) finish(ctx context.Context, st *Status, phase string, err error) error {
	st.Phase = phase
	if err != nil {
		st.Error = err.Error()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e.save(sctx, st)
	return err
}

func (e *Executor) save(ctx context.Context, st *Status) {
	if e.State == nil {
		return
	}
	if err := e.State.Save(ctx, st); err != nil {
		e.log().Warn("rebuild: could not record the rebuild's state", "rebuild", e.label(), "err", err)
	}
}

func (e *Executor) newStatus(mode, spec string, from, to int) *Status {
	return &Status{Namespace: e.Namespace, Aggregate: e.Aggregate, Sink: e.Store.Sink(), Mode: mode,
		FromVersion: from, ToVersion: to, Spec: spec, Topic: e.Topic, StartedAt: time.Now().UTC()}
}

func (e *Executor) builderConfig(t sinks.Target) BuilderConfig {
	return BuilderConfig{KafkaOpts: e.KafkaOpts, Topic: e.Topic, Codec: e.Codec, Target: t, BatchMaxRecords: e.BatchMaxRecords, Logger: e.log()}
}

// resumeFrom is where an unfinished rebuild goes on: the offsets its
// version stores with its data when it keeps them, else its recorded
// position (at worst a little before where it stopped: writes are
// idempotent).
func (e *Executor) resumeFrom(ctx context.Context, st Status) (map[int32]int64, error) {
	stored, err := e.Store.LiveOffsets(ctx, st.ToVersion, e.Topic)
	if err != nil {
		return nil, fmt.Errorf("%s: offsets of version %d: %w", e.label(), st.ToVersion, err)
	}
	from := map[int32]int64{}
	for p, o := range st.Start {
		from[p] = o
		if q, ok := st.Position[p]; ok {
			from[p] = max(from[p], q)
		}
		if stored != nil {
			if q, ok := stored[p]; ok {
				from[p] = q
			} else {
				from[p] = o
			}
		}
	}
	e.log().Info("rebuild: resuming", "rebuild", e.label(), "version", st.ToVersion, "from", from)
	return from, nil
}

// ends returns the last stable offsets of the partitions in from.
func (e *Executor) ends(ctx context.Context, from map[int32]int64) (map[int32]int64, error) {
	l, err := e.Admin.ListCommittedOffsets(ctx, e.Topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", e.Topic, err)
	}
	out := map[int32]int64{}
	for p := range from {
		o, ok := l.Lookup(e.Topic, p)
		if !ok || o.Err != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %v", e.Topic, p, errOr(o.Err, "not listed"))
		}
		out[p] = o.Offset
	}
	return out, nil
}

// fill completes offsets with start for the partitions it lacks (a store
// that has written nothing on a partition yet).
func fill(offsets, start map[int32]int64) map[int32]int64 {
	out := maps.Clone(start)
	maps.Copy(out, offsets)
	return out
}

// commitGroup moves the sink group's committed offsets to pos.
func (e *Executor) commitGroup(ctx context.Context, pos map[int32]int64) error {
	var os kadm.Offsets
	for p, o := range pos {
		os.Add(kadm.Offset{Topic: e.Topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	res, err := e.Admin.CommitOffsets(ctx, e.Group, os)
	if err == nil {
		err = res.Error()
	}
	return err
}

// waitNoMembers returns once the sink's group has no live members,
// waiting up to StopTimeout; then it fails naming them.
func (e *Executor) waitNoMembers(ctx context.Context) error {
	deadline := time.Now().Add(e.StopTimeout)
	logged := false
	for {
		members, err := LiveMembers(ctx, e.Admin, e.Group)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%s: %w: group %s has %d: %s; stop the %s sink of %s first (or give --stop-timeout to wait for them to leave)",
				e.label(), ErrLiveMembers, e.Group, len(members), strings.Join(members, ", "), e.Store.Sink(), e.Aggregate)
		}
		if !logged {
			logged = true
			e.log().Info("rebuild: waiting for the sink's group members to leave", "group", e.Group, "members", members, "stop_timeout", e.StopTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// LiveMembers names the members of group (client id, host, instance id).
func LiveMembers(ctx context.Context, admin *kadm.Client, group string) ([]string, error) {
	dg, err := admin.DescribeGroups(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	g, ok := dg[group]
	if !ok {
		return nil, nil
	}
	if errors.Is(g.Err, kerr.GroupIDNotFound) {
		return nil, nil
	}
	if g.Err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, g.Err)
	}
	var out []string
	for _, m := range g.Members {
		s := m.ClientID + "@" + strings.TrimPrefix(m.ClientHost, "/")
		if m.InstanceID != nil {
			s += " (instance " + *m.InstanceID + ")"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}
