package elasticsearch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/topology"
)

// rebuildEnv is a widgets store of its own namespace on the test
// Elasticsearch.
type rebuildEnv struct {
	es    *esServer
	names topology.Names
	store *essink.Store
	alias string
}

func newRebuildEnv(t *testing.T) *rebuildEnv {
	t.Helper()
	names := topology.NewNames(testkit.Namespace(t)).Aggregate("widgets")
	es := newESServer(t, names)
	store, err := essink.NewStore(essink.DefaultConfig(es.url, names), widgetDocument{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &rebuildEnv{es: es, names: names, store: store, alias: names.ElasticsearchAlias()}
}

// target returns the store's target of version v, set up.
func (e *rebuildEnv) target(t *testing.T, ctx context.Context, v int) *essink.Target {
	t.Helper()
	tg, err := e.store.Target(v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	return tg.(*essink.Target)
}

// liveTarget is the target as `prism sink elasticsearch` builds it.
func (e *rebuildEnv) liveTarget(t *testing.T, ctx context.Context) *essink.Target {
	t.Helper()
	tg, err := essink.NewTarget(essink.DefaultConfig(e.es.url, e.names), widgetDocument{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	return tg
}

// aliasOn returns the indices the alias points at.
func (e *rebuildEnv) aliasOn(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var got map[string]any
	st, err := e.es.call(ctx, http.MethodGet, "/_alias/"+e.alias, nil, &got)
	if err != nil {
		t.Fatal(err)
	}
	if st == http.StatusNotFound {
		return nil
	}
	var out []string
	for ix := range got {
		out = append(out, ix)
	}
	slices.Sort(out)
	return out
}

func (e *rebuildEnv) wantVersions(t *testing.T, ctx context.Context, want ...int) {
	t.Helper()
	got, err := e.store.Versions(ctx)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Versions = %v, %v; want %v", got, err, want)
	}
}

func (e *rebuildEnv) wantCurrent(t *testing.T, ctx context.Context, want int) {
	t.Helper()
	if got, err := e.store.Current(ctx); err != nil || got != want {
		t.Fatalf("Current = %d, %v; want %d", got, err, want)
	}
}

// widgets returns one event per id prefix+i (i < n) at offsets from off
// on, each a widget at rev with count.
func widgets(prefix string, n int, off, rev, count int64) []sinks.Event {
	evs := make([]sinks.Event, n)
	born := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range evs {
		id := fmt.Sprintf("%s%d", prefix, i)
		evs[i] = widgetEvent(off+int64(i), id, rev, &widget{Name: id, Count: count, Born: born, Rev: rev})
	}
	return evs
}

func write(t *testing.T, ctx context.Context, tg sinks.Target, evs []sinks.Event) {
	t.Helper()
	if rej, err := tg.Write(ctx, "widgets", evs); err != nil || len(rej) > 0 {
		t.Fatalf("Write into %s: rejected %v, %v", tg.(*essink.Target).Writes(), rej, err)
	}
}

// widgetDocs reads every document of name (refreshed): id -> count, rev
// and _version.
func (e *rebuildEnv) widgetDocs(t *testing.T, ctx context.Context, name string) map[string][3]int64 {
	t.Helper()
	hits, err := e.es.search(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][3]int64, len(hits))
	for id, h := range hits {
		var s struct {
			Name  string `json:"name"`
			Count int64  `json:"count"`
			Rev   int64  `json:"rev"`
		}
		if err := json.Unmarshal(h.Source, &s); err != nil {
			t.Fatal(err)
		}
		out[id] = [3]int64{s.Count, s.Rev, h.Version}
	}
	return out
}

// expect folds events into the documents a full build holds: id -> count,
// rev and _version (offset + 1 of the last event).
func expect(evs ...[]sinks.Event) map[string][3]int64 {
	out := map[string][3]int64{}
	for _, b := range evs {
		for _, ev := range b {
			id := ev.Envelope.AggregateID
			if w, ok := ev.Envelope.State.(*widget); ok {
				out[id] = [3]int64{w.Count, w.Rev, ev.Offset + 1}
			} else {
				delete(out, id)
			}
		}
	}
	return out
}

func sameDocs(t *testing.T, what string, got, want map[string][3]int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		var diff []string
		for id, w := range want {
			if g, ok := got[id]; !ok || g != w {
				diff = append(diff, fmt.Sprintf("%s: got %v (present %v), want %v", id, g, ok, w))
			}
		}
		for id, g := range got {
			if _, ok := want[id]; !ok {
				diff = append(diff, fmt.Sprintf("%s: got %v, want absent", id, g))
			}
		}
		slices.Sort(diff)
		t.Fatalf("%s: %d documents, want %d; %d differences, first: %v", what, len(got), len(want), len(diff), diff[:min(len(diff), 5)])
	}
}

// TestStoreVersionsTargetsAndDrop: a fresh store is at version 1 with no
// index; Target(1) is the live target (through the alias, which its Setup
// creates with index v1); Target(2) writes index v2 and its Setup leaves the
// alias on v1; Versions lists both; Drop refuses the current version and
// deletes another; the methods without meaning for Elasticsearch answer so.
func TestStoreVersionsTargetsAndDrop(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	e := newRebuildEnv(t)
	if e.store.Sink() != "elasticsearch" || e.store.Projections() != nil {
		t.Fatalf("Sink %q, Projections %v", e.store.Sink(), e.store.Projections())
	}
	e.wantCurrent(t, ctx, 1)
	e.wantVersions(t, ctx)
	v1 := e.target(t, ctx, 1)
	if v1.Writes() != e.alias {
		t.Fatalf("Target(1) writes %s, want the alias %s", v1.Writes(), e.alias)
	}
	v2 := e.target(t, ctx, 2)
	if v2.Writes() != e.names.ElasticsearchIndex(2) {
		t.Fatalf("Target(2) writes %s, want %s", v2.Writes(), e.names.ElasticsearchIndex(2))
	}
	if on := e.aliasOn(t, ctx); fmt.Sprint(on) != fmt.Sprint([]string{e.names.ElasticsearchIndex(1)}) {
		t.Fatalf("alias on %v after Target(2).Setup, want v1 only", on)
	}
	e.wantCurrent(t, ctx, 1)
	e.wantVersions(t, ctx, 1, 2)
	write(t, ctx, v1, widgets("a", 3, 0, 1, 1))
	write(t, ctx, v2, widgets("b", 5, 0, 1, 1))
	if n := len(e.widgetDocs(t, ctx, e.alias)); n != 3 {
		t.Fatalf("alias reads %d documents, want v1's 3", n)
	}
	if n := len(e.widgetDocs(t, ctx, e.names.ElasticsearchIndex(2))); n != 5 {
		t.Fatalf("v2 holds %d documents, want 5", n)
	}
	if off, err := e.store.LiveOffsets(ctx, 1, "widgets"); off != nil || err != nil {
		t.Fatalf("LiveOffsets = %v, %v; want nil, nil", off, err)
	}
	if err := e.store.Forget(ctx, 1, "widgets", nil, nil); err != nil {
		t.Fatalf("Forget(nil): %v, want nil (any start is fine)", err)
	}
	if err := e.store.Clear(ctx, 1, "widgets", []string{"payment_summary"}); !errors.Is(err, rebuild.ErrNoSuchProjection) {
		t.Fatalf("Clear with projections: %v", err)
	}
	if err := e.store.Switch(ctx, rebuild.Switch{From: 1, To: 2, Projections: []string{"x"}}); !errors.Is(err, rebuild.ErrNoSuchProjection) {
		t.Fatalf("Switch with projections: %v", err)
	}
	if err := e.store.Drop(ctx, 1); err == nil {
		t.Fatal("Drop of the current version accepted")
	}
	if err := e.store.Drop(ctx, 2); err != nil {
		t.Fatal(err)
	}
	e.wantVersions(t, ctx, 1)
	if err := e.store.Drop(ctx, 2); err != nil {
		t.Fatalf("Drop of a missing version: %v", err)
	}
	if n := len(e.widgetDocs(t, ctx, e.alias)); n != 3 {
		t.Fatalf("alias reads %d documents after the drops, want 3", n)
	}
}

// reader counts the documents the alias holds as fast as it can until
// stopped: every search must answer (no failed read) and count one of the
// allowed totals (never a half-built version).
type reader struct {
	failed, odd atomic.Int64
	seen        sync.Map // total -> true
	reads       atomic.Int64
	firstErr    atomic.Value
	stop        chan struct{}
	done        chan struct{}
}

func startReader(ctx context.Context, e *rebuildEnv, allowed ...int) *reader {
	r := &reader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.stop:
				return
			default:
			}
			var res struct {
				TimedOut bool `json:"timed_out"`
				Shards   struct {
					Failed int `json:"failed"`
				} `json:"_shards"`
				Hits struct {
					Total struct {
						Value int `json:"value"`
					} `json:"total"`
				} `json:"hits"`
			}
			st, err := e.es.call(ctx, http.MethodPost, "/"+e.alias+"/_search",
				map[string]any{"size": 0, "track_total_hits": true}, &res)
			r.reads.Add(1)
			if err != nil || st != http.StatusOK || res.TimedOut || res.Shards.Failed > 0 {
				r.failed.Add(1)
				var raw any
				if err == nil {
					_, _ = e.es.call(ctx, http.MethodPost, "/"+e.alias+"/_search", map[string]any{"size": 0}, &raw)
				}
				r.firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d, err %v, %+v (a search right after: %v)", st, err, res, raw))
				continue
			}
			r.seen.Store(res.Hits.Total.Value, true)
			if !slices.Contains(allowed, res.Hits.Total.Value) {
				r.odd.Add(1)
			}
		}
	}()
	return r
}

func (r *reader) finish(t *testing.T, mustSee ...int) {
	t.Helper()
	close(r.stop)
	<-r.done
	var seen []int
	r.seen.Range(func(k, _ any) bool { seen = append(seen, k.(int)); return true })
	slices.Sort(seen)
	t.Logf("reader: %d searches, totals seen %v", r.reads.Load(), seen)
	if r.failed.Load() > 0 || r.odd.Load() > 0 {
		t.Fatalf("reader: %d failed searches (first: %v), %d with a total not of a whole version (seen %v)",
			r.failed.Load(), r.firstErr.Load(), r.odd.Load(), seen)
	}
	for _, n := range mustSee {
		if !slices.Contains(seen, n) {
			t.Fatalf("reader never saw %d documents (seen %v): it did not read across the change", n, seen)
		}
	}
}

// TestStoreSwitch: version 1 (200 widgets) is live, with the live target
// updating them all the time; version 2 (300 widgets, never refreshed by
// hand) is built beside it without moving the alias; Switch moves the alias
// while a reader searches it continuously: no search fails, each counts 200
// or 300 (a whole version: Switch refreshes v2 first). CatchUp, called
// after the move, copies what the live target wrote; the live target's
// batches after the switch land in v2 (through the alias, no restart). In
// the end v2 holds every live update (nothing lost); v1 is deleted, or
// kept with KeepOld.
func TestStoreSwitch(t *testing.T) {
	for _, keepOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepOld=%v", keepOld), func(t *testing.T) {
			ctx := testkit.Context(t, 2*time.Minute)
			e := newRebuildEnv(t)
			live := e.target(t, ctx, 1)
			base := widgets("a", 200, 0, 1, 0)
			write(t, ctx, live, base)
			if _, err := e.es.call(ctx, http.MethodPost, "/"+e.alias+"/_refresh", nil, nil); err != nil {
				t.Fatal(err)
			}

			builder := e.target(t, ctx, 2)
			v2 := e.names.ElasticsearchIndex(2)
			// No refresh of v2 but the one Switch makes.
			if st, err := e.es.call(ctx, http.MethodPut, "/"+v2+"/_settings", map[string]any{"index.refresh_interval": "-1"}, nil); err != nil || st != http.StatusOK {
				t.Fatalf("set refresh_interval: %d %v", st, err)
			}
			extra := widgets("b", 100, 200, 1, 0)
			write(t, ctx, builder, base)
			write(t, ctx, builder, extra)
			if on := e.aliasOn(t, ctx); len(on) != 1 || on[0] != e.names.ElasticsearchIndex(1) {
				t.Fatalf("alias on %v while v2 is built, want v1", on)
			}

			// The live sink keeps updating a0..a9 (rev 2, 3, ...), each
			// batch at new offsets.
			var (
				mu         sync.Mutex
				liveEvents []sinks.Event
				switched   atomic.Bool
				afterCount atomic.Int64 // batches started after the switch
				liveErr    atomic.Value
				stopLive   = make(chan struct{})
				liveDone   = make(chan struct{})
			)
			go func() {
				defer close(liveDone)
				off, rev := int64(10_000), int64(2)
				for {
					select {
					case <-stopLive:
						return
					default:
					}
					after := switched.Load()
					b := widgets("a", 10, off, rev, rev*10)
					if _, err := live.Write(ctx, "widgets", b); err != nil {
						liveErr.CompareAndSwap(nil, err)
						return
					}
					mu.Lock()
					liveEvents = append(liveEvents, b...)
					mu.Unlock()
					if after {
						afterCount.Add(1)
					}
					off, rev = off+10, rev+1
					time.Sleep(5 * time.Millisecond)
				}
			}()
			rd := startReader(ctx, e, 200, 300)
			time.Sleep(300 * time.Millisecond)

			catchUps := 0
			err := e.store.Switch(ctx, rebuild.Switch{Topic: "widgets", From: 1, To: 2, KeepOld: keepOld,
				CatchUp: func(ctx context.Context, until map[int32]int64) error {
					catchUps++
					if until != nil {
						return fmt.Errorf("CatchUp got %v, want nil", until)
					}
					if on := e.aliasOn(t, ctx); len(on) != 1 || on[0] != v2 {
						return fmt.Errorf("alias on %v during CatchUp, want %s", on, v2)
					}
					switched.Store(true)
					// Wait for live batches after the switch, then copy
					// everything the live sink wrote (as the engine
					// reads the topic to its end).
					for deadline := time.Now().Add(10 * time.Second); afterCount.Load() < 3; {
						if time.Now().After(deadline) {
							return errors.New("no live batch after the switch")
						}
						time.Sleep(10 * time.Millisecond)
					}
					mu.Lock()
					evs := slices.Clone(liveEvents)
					mu.Unlock()
					_, err := builder.Write(ctx, "widgets", evs)
					return err
				}})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			rd.finish(t, 200, 300)
			close(stopLive)
			<-liveDone
			if err := liveErr.Load(); err != nil {
				t.Fatalf("live Write: %v", err)
			}
			if catchUps != 1 {
				t.Fatalf("CatchUp called %d times, want once", catchUps)
			}
			e.wantCurrent(t, ctx, 2)
			if on := e.aliasOn(t, ctx); len(on) != 1 || on[0] != v2 {
				t.Fatalf("alias on %v, want %s", on, v2)
			}
			// One more live batch, surely after the switch: it lands in v2.
			last := widgets("a", 10, 1_000_000, 1000, 7)
			write(t, ctx, live, last)
			mu.Lock()
			all := append(slices.Clone(liveEvents), last...)
			mu.Unlock()
			want := expect(base, extra, all)
			sameDocs(t, "v2 after the switch", e.widgetDocs(t, ctx, v2), want)
			if keepOld {
				e.wantVersions(t, ctx, 1, 2)
				old := e.widgetDocs(t, ctx, e.names.ElasticsearchIndex(1))
				if len(old) != 200 || old["a0"][2] >= 1_000_001 {
					t.Fatalf("kept v1: %d documents, a0 %v: want 200, without the batch written after the switch", len(old), old["a0"])
				}
			} else {
				e.wantVersions(t, ctx, 2)
			}
			// A second switch from 1 is refused: the alias is not on v1.
			if keepOld {
				if err := e.store.Switch(ctx, rebuild.Switch{From: 1, To: 2}); err == nil {
					t.Fatal("a switch from a version the alias is not on was accepted")
				}
				if on := e.aliasOn(t, ctx); len(on) != 1 || on[0] != v2 {
					t.Fatalf("alias on %v after a refused switch, want %s", on, v2)
				}
			}
		})
	}
}

// TestStoreRestartedLiveSinkKeepsTheSwitchedVersion: after a switch to v2
// a live sink started again as `prism sink elasticsearch` starts it
// (IndexVersion 1) neither recreates v1 nor moves the alias back, and its
// writes land in v2; with v1 kept, v1 is left as it was. The index the
// alias points at deleted by hand under a running live target: its next
// batch sets up the configured index (with the explicit, strict mapping)
// and the alias again, and is written.
func TestStoreRestartedLiveSinkKeepsTheSwitchedVersion(t *testing.T) {
	for _, keepOld := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepOld=%v", keepOld), func(t *testing.T) {
			ctx := testkit.Context(t, time.Minute)
			e := newRebuildEnv(t)
			write(t, ctx, e.liveTarget(t, ctx), widgets("a", 5, 0, 1, 1))
			write(t, ctx, e.target(t, ctx, 2), widgets("a", 5, 0, 1, 2))
			if err := e.store.Switch(ctx, rebuild.Switch{Topic: "widgets", From: 1, To: 2, KeepOld: keepOld}); err != nil {
				t.Fatal(err)
			}
			restarted := e.liveTarget(t, ctx)
			if on := e.aliasOn(t, ctx); fmt.Sprint(on) != fmt.Sprint([]string{e.names.ElasticsearchIndex(2)}) {
				t.Fatalf("alias on %v after the restarted sink's Setup, want v2", on)
			}
			if keepOld {
				e.wantVersions(t, ctx, 1, 2)
			} else {
				e.wantVersions(t, ctx, 2)
			}
			write(t, ctx, restarted, widgets("a", 5, 100, 2, 3))
			if d := e.widgetDocs(t, ctx, e.names.ElasticsearchIndex(2)); len(d) != 5 || d["a4"] != [3]int64{3, 2, 105} {
				t.Fatalf("v2 after the restarted sink's batch: %v, want its writes (a4 count 3 rev 2 _version 105)", d)
			}
			if keepOld {
				if d := e.widgetDocs(t, ctx, e.names.ElasticsearchIndex(1)); d["a4"] != [3]int64{1, 1, 5} {
					t.Fatalf("kept v1 changed: a4 %v", d["a4"])
				}
			}

			// The alias's index deleted by hand under the running sink.
			if st, err := e.es.call(ctx, http.MethodDelete, "/"+e.names.ElasticsearchIndex(2), nil, nil); err != nil || st != http.StatusOK {
				t.Fatalf("delete v2: %d %v", st, err)
			}
			write(t, ctx, restarted, widgets("c", 2, 200, 1, 4))
			v1 := e.names.ElasticsearchIndex(1)
			if on := e.aliasOn(t, ctx); fmt.Sprint(on) != fmt.Sprint([]string{v1}) {
				t.Fatalf("alias on %v after the write, want the configured %s", on, v1)
			}
			var m map[string]struct {
				Mappings struct {
					Dynamic string `json:"dynamic"`
				} `json:"mappings"`
			}
			if st, err := e.es.call(ctx, http.MethodGet, "/"+v1+"/_mapping", nil, &m); err != nil || st != http.StatusOK || m[v1].Mappings.Dynamic != "strict" {
				t.Fatalf("mapping of %s: %d %v %+v, want the explicit strict one", v1, st, err, m)
			}
			if d := e.widgetDocs(t, ctx, e.alias); d["c1"] != [3]int64{4, 1, 202} {
				t.Fatalf("alias after the write: %v, want c1 written", d)
			}
		})
	}
}

// TestStoreClear: Clear of the current version empties it while a reader
// searches the alias (no failed search; 30 documents, then 0) and leaves
// the alias on it; the same events then written again (a rebuild from the
// log start, same offsets) are all indexed. Clear of another version
// empties it without touching the alias. After the index is deleted by
// hand (which drops the alias), Clear of version 1 creates the index and
// the alias, and the rebuild writes through them. A Clear interrupted with
// the alias on the clearing index is finished by Clear again.
func TestStoreClear(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	e := newRebuildEnv(t)
	v1 := e.names.ElasticsearchIndex(1)
	evs := widgets("a", 30, 0, 1, 1)
	write(t, ctx, e.target(t, ctx, 1), evs)
	if _, err := e.es.call(ctx, http.MethodPost, "/"+e.alias+"/_refresh", nil, nil); err != nil {
		t.Fatal(err)
	}
	rd := startReader(ctx, e, 30, 0)
	time.Sleep(200 * time.Millisecond)
	if err := e.store.Clear(ctx, 1, "widgets", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	rd.finish(t, 30, 0)
	if on := e.aliasOn(t, ctx); fmt.Sprint(on) != fmt.Sprint([]string{v1}) {
		t.Fatalf("alias on %v after Clear, want %s", on, v1)
	}
	e.wantVersions(t, ctx, 1)
	if st, _ := e.es.call(ctx, http.MethodGet, "/"+v1+"-clearing", nil, nil); st != http.StatusNotFound {
		t.Fatalf("clearing index left: status %d", st)
	}
	write(t, ctx, e.target(t, ctx, 1), evs)
	sameDocs(t, "v1 rebuilt after Clear", e.widgetDocs(t, ctx, e.alias), expect(evs))

	// Another version: emptied, the alias untouched.
	write(t, ctx, e.target(t, ctx, 2), widgets("b", 4, 0, 1, 1))
	if err := e.store.Clear(ctx, 2, "widgets", nil); err != nil {
		t.Fatal(err)
	}
	if d := e.widgetDocs(t, ctx, e.names.ElasticsearchIndex(2)); len(d) != 0 {
		t.Fatalf("v2 after Clear: %d documents", len(d))
	}
	if on := e.aliasOn(t, ctx); fmt.Sprint(on) != fmt.Sprint([]string{v1}) {
		t.Fatalf("alias on %v after Clear(2), want %s", on, v1)
	}

	// The index dropped by hand, then a rebuild in place from the start.
	if st, err := e.es.call(ctx, http.MethodDelete, "/"+v1, nil, nil); err != nil || st != http.StatusOK {
		t.Fatalf("delete %s: %d %v", v1, st, err)
	}
	e.wantCurrent(t, ctx, 1)
	if err := e.store.Clear(ctx, 1, "widgets", nil); err != nil {
		t.Fatal(err)
	}
	if on := e.aliasOn(t, ctx); fmt.Sprint(on) != fmt.Sprint([]string{v1}) {
		t.Fatalf("alias on %v after Clear of a dropped index, want %s", on, v1)
	}
	tg := e.target(t, ctx, 1)
	if tg.Writes() != e.alias {
		t.Fatalf("Target(1) writes %s, want the alias", tg.Writes())
	}
	write(t, ctx, tg, evs)
	sameDocs(t, "v1 rebuilt after the drop", e.widgetDocs(t, ctx, e.alias), expect(evs))

	// Interrupted: the alias on the clearing index, v1 gone.
	tmp := v1 + "-clearing"
	if st, err := e.es.call(ctx, http.MethodPut, "/"+tmp, nil, nil); err != nil || st != http.StatusOK {
		t.Fatalf("create %s: %d %v", tmp, st, err)
	}
	if st, err := e.es.call(ctx, http.MethodPost, "/_aliases", map[string]any{"actions": []any{
		map[string]any{"add": map[string]any{"index": tmp, "alias": e.alias}},
		map[string]any{"remove_index": map[string]any{"index": v1}},
	}}, nil); err != nil || st != http.StatusOK {
		t.Fatalf("move the alias to %s: %d %v", tmp, st, err)
	}
	e.wantCurrent(t, ctx, 1)
	if err := e.store.Clear(ctx, 1, "widgets", nil); err != nil {
		t.Fatal(err)
	}
	if on := e.aliasOn(t, ctx); fmt.Sprint(on) != fmt.Sprint([]string{v1}) {
		t.Fatalf("alias on %v after the second Clear, want %s", on, v1)
	}
	e.wantVersions(t, ctx, 1, 2)
	if st, _ := e.es.call(ctx, http.MethodGet, "/"+tmp, nil, nil); st != http.StatusNotFound {
		t.Fatalf("clearing index left: status %d", st)
	}
}

// TestStoreForgetThenReplay: documents changed and deleted by hand are not
// repaired by a replay of their events (Elasticsearch refuses the lower
// external versions, and remembers the deleted one's); after Forget of the
// range's ids the replay of the range [from, end) ends equal to a full
// build, documents outside the range untouched, and index.gc_deletes is
// back at its value.
func TestStoreForgetThenReplay(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	e := newRebuildEnv(t)
	v1 := e.names.ElasticsearchIndex(1)
	tg := e.target(t, ctx, 1)
	before := widgets("a", 40, 0, 1, 1) // offsets 0..39
	write(t, ctx, tg, before)
	// The range: from offset 40, rev 2 of a0..a19, then a5 removed.
	rng := append(widgets("a", 20, 40, 2, 2), widgetEvent(60, "a5", 3, nil))
	write(t, ctx, tg, rng)
	want := expect(before, rng)
	sameDocs(t, "full build", e.widgetDocs(t, ctx, e.alias), want)

	// Corrupt by hand: a3 changed (internal version + 1), a4 deleted, a5
	// brought back, a30 (outside the range) changed.
	for _, c := range []struct {
		method, id string
		body       any
	}{
		{http.MethodPut, "a3", map[string]any{"name": "hacked", "count": 99, "rev": 9}},
		{http.MethodDelete, "a4", nil},
		{http.MethodPut, "a30", map[string]any{"name": "hacked", "count": 99, "rev": 9}},
	} {
		if st, err := e.es.call(ctx, c.method, "/"+v1+"/_doc/"+c.id, c.body, nil); err != nil || st >= 300 {
			t.Fatalf("%s %s: %d %v", c.method, c.id, st, err)
		}
	}
	if st, err := e.es.call(ctx, http.MethodPut, "/"+v1+"/_doc/a5?version=1000&version_type=external", map[string]any{"name": "zombie", "count": 99, "rev": 9}, nil); err != nil || st >= 300 {
		t.Fatalf("bring a5 back: %d %v", st, err)
	}
	replay := func() {
		t.Helper()
		for b := range slices.Chunk(rng, 7) {
			write(t, ctx, e.target(t, ctx, 1), b)
		}
	}
	replay()
	d := e.widgetDocs(t, ctx, e.alias)
	if a4, back := d["a4"]; d["a3"][0] != 99 || back || d["a5"][0] != 99 {
		t.Fatalf("a replay without Forget repaired the index (a3 %v, a4 %v, a5 %v): the test shows nothing", d["a3"], a4, d["a5"])
	}

	ids := map[string]bool{}
	for _, ev := range rng {
		ids[ev.Key] = true
	}
	var keys []string
	for id := range ids {
		keys = append(keys, id)
	}
	if err := e.store.Forget(ctx, 1, "widgets", keys, map[int32]int64{0: 40}); err != nil {
		t.Fatal(err)
	}
	replay()
	want["a30"] = [3]int64{99, 9, 32} // outside the range: as the hand left it
	sameDocs(t, "after Forget and the replay of the range", e.widgetDocs(t, ctx, e.alias), want)
	gc := map[string]struct {
		Settings struct {
			Index struct {
				GCDeletes string `json:"gc_deletes"`
			} `json:"index"`
		} `json:"settings"`
	}{}
	if st, err := e.es.call(ctx, http.MethodGet, "/"+v1+"/_settings", nil, &gc); err != nil || st != http.StatusOK || gc[v1].Settings.Index.GCDeletes != "3600s" {
		t.Fatalf("index.gc_deletes after Forget: %+v (%d %v), want 3600s back", gc, st, err)
	}
	if err := e.store.Forget(ctx, 7, "widgets", []string{"a1"}, nil); err != nil {
		t.Fatalf("Forget on a missing version: %v", err)
	}
}
