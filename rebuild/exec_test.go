package rebuild

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/sinks"
)

// memStore is a Store of last states (key → last value) per version, kept
// in memory, with offsets stored with the data like the Postgres and Redis
// stores: the engine's logic under test, the stores have their own tests
// against the real services.
type memStore struct {
	mu       sync.Mutex
	current  int
	versions map[int]*memVersion
	calls    []string
	// noForget makes Forget refuse like the readmodels store.
	noForget bool
	// onSwitch runs inside Switch before the version moves (the live sink
	// writing meanwhile).
	onSwitch func()
}

type memVersion struct {
	state map[string]string
	next  map[int32]int64
}

func newMemStore() *memStore {
	return &memStore{current: 1, versions: map[int]*memVersion{1: {state: map[string]string{}, next: map[int32]int64{}}}}
}

func (s *memStore) call(c string) { s.calls = append(s.calls, c) }

func (s *memStore) Sink() string { return "mem" }
func (s *memStore) Current(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, nil
}
func (s *memStore) Versions(context.Context) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.versions)), nil
}
func (s *memStore) version(v int) *memVersion {
	mv := s.versions[v]
	if mv == nil {
		mv = &memVersion{state: map[string]string{}, next: map[int32]int64{}}
		s.versions[v] = mv
	}
	return mv
}
func (s *memStore) Target(v int) (sinks.Target, error) { return &memStoreTarget{s: s, v: v}, nil }
func (s *memStore) Clear(_ context.Context, v int, _ string, _ []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call(fmt.Sprintf("clear %d", v))
	s.versions[v] = &memVersion{state: map[string]string{}, next: map[int32]int64{}}
	return nil
}
func (s *memStore) Forget(_ context.Context, v int, _ string, ids []string, next map[int32]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noForget {
		return fmt.Errorf("mem: %w", ErrNeedsLogStart)
	}
	if ids == nil && next == nil {
		return nil
	}
	s.call(fmt.Sprintf("forget %d %v", v, ids))
	mv := s.version(v)
	for _, id := range ids {
		delete(mv.state, id)
	}
	maps.Copy(mv.next, next)
	return nil
}
func (s *memStore) LiveOffsets(_ context.Context, v int, _ string) (map[int32]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.version(v).next), nil
}
func (s *memStore) Switch(ctx context.Context, sw Switch) error {
	if s.onSwitch != nil {
		s.onSwitch()
	}
	live, _ := s.LiveOffsets(ctx, sw.From, sw.Topic)
	if err := sw.CatchUp(ctx, live); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call(fmt.Sprintf("switch %d->%d", sw.From, sw.To))
	if !maps.Equal(s.versions[sw.To].next, live) {
		return fmt.Errorf("version %d at %v, live at %v: CatchUp did not make them equal", sw.To, s.versions[sw.To].next, live)
	}
	s.current = sw.To
	if !sw.KeepOld {
		delete(s.versions, sw.From)
	}
	return nil
}
func (s *memStore) Drop(_ context.Context, v int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call(fmt.Sprintf("drop %d", v))
	delete(s.versions, v)
	return nil
}
func (s *memStore) Projections() []string { return nil }
func (s *memStore) Close() error          { return nil }

// memStoreTarget writes version v like a sink: events below the stored
// offsets are skipped, the offsets move with the data.
type memStoreTarget struct {
	s *memStore
	v int
}

func (t *memStoreTarget) Name() string                { return "mem" }
func (t *memStoreTarget) Setup(context.Context) error { return nil }
func (t *memStoreTarget) Close() error                { return nil }
func (t *memStoreTarget) CommittedOffsets(ctx context.Context, topic string, _ []int32) (map[int32]int64, error) {
	return t.s.LiveOffsets(ctx, t.v, topic)
}
func (t *memStoreTarget) Write(_ context.Context, _ string, batch []sinks.Event) ([]sinks.Rejected, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	mv := t.s.version(t.v)
	for _, ev := range batch {
		if ev.Offset < mv.next[ev.Partition] {
			continue
		}
		mv.state[ev.Key] = ev.Envelope.AggregateID
		mv.next[ev.Partition] = ev.Offset + 1
	}
	return nil, nil
}

// produce writes key=value records (no transaction) on partition p.
func produce(t *testing.T, cl *kgo.Client, topic string, p int32, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: p, Key: []byte(kv[i]), Value: []byte(kv[i+1])}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func newExecEnv(t *testing.T) (*kfake.Cluster, *kgo.Client, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "ev"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl, kadm.NewClient(cl)
}

func newExec(c *kfake.Cluster, admin *kadm.Client, store Store) *Executor {
	return &Executor{Store: store, KafkaOpts: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, Admin: admin,
		Namespace: "t", Aggregate: "things", Topic: "ev", Group: "sink.mem", Codec: keyCodec{}, BatchMaxRecords: 2}
}

// TestExecutorInPlace: from the log start the store is cleared and ends
// at the topic's last states; from a later offset only the keys the range
// holds are forgotten and rewritten; a store that needs the log start
// refuses a later start before anything changes.
func TestExecutorInPlace(t *testing.T) {
	c, cl, admin := newExecEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	produce(t, cl, "ev", 0, "a", "a1", "b", "b1", "a", "a2")
	produce(t, cl, "ev", 1, "c", "c1", "d", "d1")

	store := newMemStore()
	store.versions[1].state = map[string]string{"a": "corrupt", "zombie": "z"}
	e := newExec(c, admin, store)
	plan, err := MakePlan(ctx, admin, "ev", "sink.mem", Spec{Kind: ToEarliest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.InPlace(ctx, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "a2", "b": "b1", "c": "c1", "d": "d1"}
	if got := store.versions[1].state; !maps.Equal(got, want) {
		t.Fatalf("after a rebuild from the log start: %v, want %v", got, want)
	}
	if st.Phase != PhaseDone || st.Done != 5 {
		t.Fatalf("status %+v, want done with 5 records", st)
	}
	if !slices.Contains(store.calls, "clear 1") {
		t.Fatalf("calls %v: want the store cleared", store.calls)
	}
	committed, err := admin.FetchOffsets(ctx, "sink.mem")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := committed.Lookup("ev", 0); o.At != 3 {
		t.Fatalf("group offset of partition 0 = %d, want 3 (the end)", o.At)
	}

	// Corrupt b and c; rebuild from offset 1 on partition 0 only: b
	// (offset 1) and a (offset 2) are forgotten and rewritten, c stays
	// wrong (not in the range), d untouched.
	store.calls = nil
	store.versions[1].state["b"] = "corrupt"
	store.versions[1].state["c"] = "corrupt"
	plan, err = MakePlan(ctx, admin, "ev", "sink.mem", Spec{Kind: ToOffset, Offset: 1}, []int32{0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InPlace(ctx, plan, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"forget 1 [a b]"}; !slices.Equal(store.calls, want) {
		t.Fatalf("calls %v, want %v", store.calls, want)
	}
	want = map[string]string{"a": "a2", "b": "b1", "c": "corrupt", "d": "d1"}
	if got := store.versions[1].state; !maps.Equal(got, want) {
		t.Fatalf("after a rebuild from offset 1 of partition 0: %v, want %v", got, want)
	}

	store.noForget = true
	store.calls = nil
	if _, err := e.InPlace(ctx, plan, nil); !errors.Is(err, ErrNeedsLogStart) {
		t.Fatalf("a later start on a store that needs the log start: err %v, want ErrNeedsLogStart", err)
	}
	if len(store.calls) != 0 {
		t.Fatalf("the refused rebuild changed the store: %v", store.calls)
	}
}

// TestExecutorRefusesLiveMembers: a member in the sink's group stops an
// in-place rebuild, named; --stop-timeout waits for it to leave.
func TestExecutorRefusesLiveMembers(t *testing.T) {
	c, cl, admin := newExecEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	produce(t, cl, "ev", 0, "a", "a1")
	member, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("sink.mem"), kgo.ConsumeTopics("ev"), kgo.ClientID("live-sink"))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		member.PollFetches(ctx)
		if m, _ := LiveMembers(ctx, admin, "sink.mem"); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the member never joined")
		}
	}
	store := newMemStore()
	e := newExec(c, admin, store)
	plan, err := MakePlan(ctx, admin, "ev", "sink.mem", Spec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.InPlace(ctx, plan, nil)
	if !errors.Is(err, ErrLiveMembers) || !containsAll(err.Error(), "live-sink", "sink.mem") {
		t.Fatalf("err %v: want ErrLiveMembers naming the member and the group", err)
	}
	if len(store.calls) != 0 {
		t.Fatalf("the refused rebuild changed the store: %v", store.calls)
	}
	go func() {
		time.Sleep(time.Second)
		member.Close() // leaves the group
	}()
	e.StopTimeout = 20 * time.Second
	if _, err := e.InPlace(ctx, plan, nil); err != nil {
		t.Fatalf("with --stop-timeout the rebuild waits for the member to leave: %v", err)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestExecutorSideBySide: version 2 is built chasing the live version's
// offsets, the switch makes both equal while the live sink goes on
// writing, version 1 is dropped (kept with KeepOld).
func TestExecutorSideBySide(t *testing.T) {
	c, cl, admin := newExecEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 7 {
		produce(t, cl, "ev", int32(i%3%2), fmt.Sprintf("k%d", i%3), fmt.Sprintf("v%d", i)) // a key on one partition
	}
	store := newMemStore()
	live, _ := store.Target(1)
	e := newExec(c, admin, store)
	// The live sink: applied everything so far.
	runLive := func() {
		lb, err := NewBuilder(BuilderConfig{KafkaOpts: e.KafkaOpts, Topic: "ev", Codec: keyCodec{}, Target: live}, fill(mustLive(t, store, 1), map[int32]int64{0: 0, 1: 0}))
		if err != nil {
			t.Error(err)
			return
		}
		defer lb.Close()
		ends, err := e.ends(ctx, map[int32]int64{0: 0, 1: 0})
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := lb.RunTo(ctx, ends); err != nil {
			t.Error(err)
		}
	}
	runLive()
	// While the switch runs, more events arrive and the live sink applies
	// them: version 2 must hold them too.
	store.onSwitch = func() {
		produce(t, cl, "ev", 0, "k9", "late")
		runLive()
	}
	st, err := e.SideBySide(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if store.current != 2 || st.ToVersion != 2 || st.Phase != PhaseDone {
		t.Fatalf("current %d, status %+v: want version 2, done", store.current, st)
	}
	want := map[string]string{"k0": "v6", "k1": "v4", "k2": "v5", "k9": "late"}
	if got := store.versions[2].state; !maps.Equal(got, want) {
		t.Fatalf("version 2 = %v, want %v", got, want)
	}
	if _, ok := store.versions[1]; ok {
		t.Fatal("version 1 kept without KeepOld")
	}
	e.KeepOld = true
	store.onSwitch = nil
	if _, err := e.SideBySide(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if vs, _ := store.Versions(ctx); !slices.Equal(vs, []int{2, 3}) || store.current != 3 {
		t.Fatalf("versions %v current %d: want [2 3] with 3 current (KeepOld)", vs, store.current)
	}
}

func mustLive(t *testing.T, s *memStore, v int) map[int32]int64 {
	t.Helper()
	o, err := s.LiveOffsets(context.Background(), v, "ev")
	if err != nil {
		t.Fatal(err)
	}
	return o
}
