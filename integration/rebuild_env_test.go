package integration

// Environment of the `prism rebuild` tests (rebuild_*_test.go): a serve
// environment (the pipeline's processes, the Redis and Elasticsearch
// stores) plus the binary's rebuild command, each sink's comparison with
// the expectation computed from the commands (sinks_check_test.go,
// sinkExpect), hand corruption of a sink's target and the plan's JSON.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// rebuildEnv is one namespace for the rebuild tests.
type rebuildEnv struct {
	*serveEnv
	start time.Time
	// x is the expectation of every command produced so far.
	x sinkExpect
	// batches counts the command batches made (their id prefixes).
	batches int
}

func newRebuildEnv(t *testing.T, partitions int32) *rebuildEnv {
	t.Helper()
	e := &rebuildEnv{serveEnv: newServeEnv(t, partitions), start: time.Now(), x: sinkExpect{payments: map[string]*sinkPay{}}}
	// The topics the spec does not hold (the rebuilds' state topic).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adm := kadm.NewClient(e.cl)
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			return
		}
		var mine []string
		for _, name := range topics.Names() {
			if strings.HasPrefix(name, e.ns+".") {
				mine = append(mine, name)
			}
		}
		if len(mine) > 0 {
			_, _ = adm.DeleteTopics(ctx, mine...)
		}
	})
	return e
}

// commands generates n more commands for new payments (ids of a prefix of
// their own) and adds their outcome to e.x; org, when set, moves every
// payment of the batch to that organization.
func (e *rebuildEnv) commands(n int, org string) []*schemas.CommandEnvelope {
	e.batches++
	cmds, x := generateSinkCommands(n, uint64(100+e.batches), fmt.Sprintf("%s-b%d", e.ns, e.batches))
	if org != "" {
		for _, c := range cmds {
			c.OrganizationID = org
		}
		for _, p := range x.payments {
			p.org = org
		}
		for i := range x.events {
			x.events[i].org = org
		}
	}
	for id, p := range x.payments {
		e.x.payments[id] = p
	}
	e.x.events = append(e.x.events, x.events...)
	return cmds
}

// startSinks starts the processor (once) and the named sinks.
func (e *rebuildEnv) startSinks(sinkNames ...string) {
	e.t.Helper()
	if e.proc == nil {
		e.proc = e.startProcessor("proc-1")
	}
	for _, sk := range sinkNames {
		e.startOneSink(sk)
	}
}

// startOneSink starts `prism sink <sk>` (again after a stop).
func (e *rebuildEnv) startOneSink(sk string) {
	e.t.Helper()
	var extra []string
	switch sk {
	case "redis":
		extra = []string{"--redis-url", e.redisURL, "--redis-recent-size", "100000"}
	case "elasticsearch":
		extra = []string{"--elasticsearch-url", e.esURL}
	}
	e.sinks[sk] = e.startSink(fmt.Sprintf("sink-%s-%d", sk, time.Now().UnixNano()%100000), sk, extra...)
}

// stopSink stops the running sink sk (SIGTERM, exit 0): its group has no
// member left.
func (e *rebuildEnv) stopSink(sk string) {
	e.t.Helper()
	e.sinks[sk].stop(e.t)
	delete(e.sinks, sk)
}

// rebuild runs `prism rebuild args...` on the namespace with every
// service's address.
func (e *rebuildEnv) rebuild(ctx context.Context, args ...string) cliRun {
	e.tt.Helper()
	return runPrism(e.tt, ctx, "", e.rebuildArgs(args...)...)
}

func (e *rebuildEnv) rebuildArgs(args ...string) []string {
	return append([]string{"--namespace", e.ns, "--brokers", strings.Join(e.brokers, ","), "--postgres-url", e.pgURL,
		"--redis-url", e.redisURL, "--elasticsearch-url", e.esURL, "--log-level", "info", "rebuild"}, args...)
}

// mustRebuild runs rebuild and requires exit 0.
func (e *rebuildEnv) mustRebuild(ctx context.Context, args ...string) cliRun {
	e.tt.Helper()
	start := time.Now()
	r := e.rebuild(ctx, args...)
	if r.code != 0 {
		e.t.Fatalf("prism rebuild %s: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, lastLines(r.stderr, 30))
	}
	e.t.Logf("prism rebuild %s: %s", strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond))
	return r
}

// ---------------------------------------------------------------- comparison

// diff lists how sink sk's target differs from e.x (timestamps, stamped
// by the processor, are left out as in the sink tests).
func (e *rebuildEnv) diff(ctx context.Context, sk string) []string {
	ignore := []sinktest.Field{sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt}
	var got map[string]schemas.Payment
	var err error
	switch sk {
	case "postgres":
		return e.checkPostgresSink(ctx, e.x)
	case "readmodels":
		return e.checkReadModels(ctx, e.x, e.start)
	case "redis":
		got, err = e.rs.Payments(ctx)
	case "elasticsearch":
		got, err = e.es.Payments(ctx)
	default:
		e.t.Fatalf("no sink %s", sk)
	}
	if err != nil {
		return []string{err.Error()}
	}
	return sinktest.DiffPayments(e.x.live(), got, 10, ignore...)
}

// requireEqual fails unless sink sk's target equals the expectation now.
func (e *rebuildEnv) requireEqual(ctx context.Context, sk, when string) {
	e.t.Helper()
	if d := e.diff(ctx, sk); len(d) > 0 {
		e.t.Fatalf("%s %s: the target differs from the expectation:\n  %s", sk, when, strings.Join(d, "\n  "))
	}
}

// requireDiffers fails unless sink sk's target differs from the
// expectation (the corruption is visible, so that a rebuild has something
// to repair).
func (e *rebuildEnv) requireDiffers(ctx context.Context, sk, when string) {
	e.t.Helper()
	if d := e.diff(ctx, sk); len(d) == 0 {
		e.t.Fatalf("%s %s: the target equals the expectation, want the corruption visible", sk, when)
	}
}

// waitSinks waits until the named sinks' groups have read the events
// topic to the end and their targets equal the expectation.
func (e *rebuildEnv) waitSinks(timeout time.Duration, sinkNames ...string) {
	e.t.Helper()
	e.waitLag(timeout, append([]string{"processor"}, sinkNames...)...)
	for _, sk := range sinkNames {
		e.waitEqual(sk, timeout, func(ctx context.Context) []string { return e.diff(ctx, sk) })
	}
}

// ---------------------------------------------------------------- corruption

// livePaymentIDs returns the expected live payments' ids, sorted, of those
// in only when only is not nil.
func (e *rebuildEnv) livePaymentIDs(only map[string]bool) []string {
	var ids []string
	for id := range e.x.live() {
		if only == nil || only[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// corrupt changes sink sk's target by hand, touching only payments in ids
// (nil: any): it deletes some, changes the values of others, adds a
// payment that never existed (in-place from earliest only: bogus) and, for
// readmodels, shifts the summary and daily totals and deletes timeline
// rows. Elasticsearch: dropIndex deletes the whole index instead.
func (e *rebuildEnv) corrupt(ctx context.Context, sk string, ids []string, bogus, dropIndex bool) {
	e.t.Helper()
	if len(ids) < 6 {
		e.t.Fatalf("corrupt %s: %d payments to corrupt, want at least 6", sk, len(ids))
	}
	del, change := ids[:3], ids[3:6]
	exec := func(sql string, args ...any) {
		e.t.Helper()
		if _, err := e.pool.Exec(ctx, sql, args...); err != nil {
			e.t.Fatalf("corrupt %s: %s: %v", sk, sql, err)
		}
	}
	switch sk {
	case "postgres":
		exec(`DELETE FROM `+e.table("payments")+` WHERE id = ANY($1)`, del)
		exec(`UPDATE `+e.table("payments")+` SET amount_minor = amount_minor + 7, status = 'FAILED', description = 'corrupted' WHERE id = ANY($1)`, change)
		if bogus {
			exec(`INSERT INTO `+e.table("payments")+` (id, organization_id, user_id, amount_minor, currency, description, status, created_at, updated_at, version)
				VALUES ($1, 'org-a', 'u', 1, 'EUR', 'never', 'PENDING', now(), now(), 1)`, e.ns+"-bogus")
		}
	case "readmodels":
		exec(`DELETE FROM `+e.table("readmodel_state")+` WHERE id = ANY($1)`, del)
		exec(`UPDATE `+e.table("readmodel_state")+` SET amount_minor = amount_minor + 7 WHERE id = ANY($1)`, change)
		exec(`UPDATE ` + e.table("payment_summary") + ` SET count = count + 3, total_amount_minor = total_amount_minor - 11`)
		exec(`UPDATE ` + e.table("payment_daily") + ` SET created_count = created_count + 2, captured_amount_minor = captured_amount_minor + 5`)
		exec(`DELETE FROM `+e.table("payment_timeline")+` WHERE aggregate_id = ANY($1)`, append(del, change...))
	case "redis":
		if err := e.rs.client.Del(ctx, e.rs.keys.Doc(del[0]), e.rs.keys.Doc(del[1]), e.rs.keys.Doc(del[2])).Err(); err != nil {
			e.t.Fatalf("corrupt redis: %v", err)
		}
		for _, id := range change {
			doc, err := e.rs.client.Get(ctx, e.rs.keys.Doc(id)).Result()
			if err != nil {
				e.t.Fatalf("corrupt redis: get %s: %v", id, err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(doc), &m); err != nil {
				e.t.Fatal(err)
			}
			m["status"], m["description"] = "FAILED", "corrupted"
			b, _ := json.Marshal(m)
			if err := e.rs.client.Set(ctx, e.rs.keys.Doc(id), b, 0).Err(); err != nil {
				e.t.Fatal(err)
			}
			if bogus && id == change[0] {
				m["id"] = e.ns + "-bogus"
				b, _ := json.Marshal(m)
				if err := e.rs.client.Set(ctx, e.rs.keys.Doc(e.ns+"-bogus"), b, 0).Err(); err != nil {
					e.t.Fatal(err)
				}
			}
		}
	case "elasticsearch":
		if dropIndex {
			if st, err := e.es.call(ctx, http.MethodDelete, "/"+e.names.ElasticsearchIndex(1), nil, nil); err != nil || st != http.StatusOK {
				e.t.Fatalf("delete index %s: status %d: %v", e.names.ElasticsearchIndex(1), st, err)
			}
			return
		}
		alias := e.names.ElasticsearchAlias()
		for _, id := range del {
			if st, err := e.es.call(ctx, http.MethodDelete, "/"+alias+"/_doc/"+id, nil, nil); err != nil || st != http.StatusOK {
				e.t.Fatalf("delete document %s: status %d: %v", id, st, err)
			}
		}
		for _, id := range change {
			var h struct {
				Source map[string]any `json:"_source"`
			}
			if st, err := e.es.call(ctx, http.MethodGet, "/"+alias+"/_doc/"+id, nil, &h); err != nil || st != http.StatusOK {
				e.t.Fatalf("get document %s: status %d: %v", id, st, err)
			}
			h.Source["status"], h.Source["description"] = "FAILED", "corrupted"
			// A version far above any offset: a replay that does not
			// delete the document first cannot overwrite it.
			if st, err := e.es.call(ctx, http.MethodPut, "/"+alias+"/_doc/"+id+"?version_type=external&version=999999999", h.Source, nil); err != nil || st/100 != 2 {
				e.t.Fatalf("overwrite document %s: status %d: %v", id, st, err)
			}
		}
	default:
		e.t.Fatalf("no sink %s", sk)
	}
}

// ---------------------------------------------------------------- plans and offsets

// rebuildPlan is a plan as `prism rebuild --json` prints it (rebuild.Plan's
// JSON), with the aggregate and sink when the command names them.
type rebuildPlan struct {
	Aggregate  string `json:"aggregate"`
	Sink       string `json:"sink"`
	Topic      string `json:"topic"`
	Partitions []struct {
		Partition int32 `json:"partition"`
		From      int64 `json:"from"`
		To        int64 `json:"to"`
		Records   int64 `json:"records"`
		LogStart  int64 `json:"log_start"`
	} `json:"partitions"`
}

// plansOf finds every plan in the JSON output out (one or more JSON values,
// the plans at any depth: an object with a topic and partitions).
func plansOf(t *testing.T, out string) []rebuildPlan {
	t.Helper()
	var plans []rebuildPlan
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["partitions"].([]any); ok {
				if _, ok := v["topic"].(string); ok {
					b, _ := json.Marshal(v)
					var p rebuildPlan
					if err := json.Unmarshal(b, &p); err != nil {
						t.Fatalf("plan %s: %v", b, err)
					}
					plans = append(plans, p)
					return
				}
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(v[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("rebuild --json output is not JSON: %v\n%s", err, out)
		}
		walk(v)
	}
	return plans
}

// eventsPlan returns the one plan of the events topic in out.
func (e *rebuildEnv) eventsPlan(out string) rebuildPlan {
	e.tt.Helper()
	var found []rebuildPlan
	for _, p := range plansOf(e.tt, out) {
		if p.Topic == e.names.EventsTopic() {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("want one plan of %s in the output, found %d:\n%s", e.names.EventsTopic(), len(found), out)
	}
	return found[0]
}

// listed returns the offsets of the events topic by partition from a
// direct kadm listing.
func (e *rebuildEnv) listed(ctx context.Context, what string, list func(adm *kadm.Client) (kadm.ListedOffsets, error)) map[int32]int64 {
	e.t.Helper()
	l, err := list(kadm.NewClient(e.cl))
	if err == nil {
		err = l.Error()
	}
	if err != nil {
		e.t.Fatalf("list %s offsets: %v", what, err)
	}
	out := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) {
		if o.Topic == e.names.EventsTopic() {
			out[o.Partition] = o.Offset
		}
	})
	return out
}

func (e *rebuildEnv) endOffsets(ctx context.Context) map[int32]int64 {
	return e.listed(ctx, "end", func(adm *kadm.Client) (kadm.ListedOffsets, error) {
		return adm.ListEndOffsets(ctx, e.names.EventsTopic())
	})
}

// committed returns sink sk's group's committed offsets of the events
// topic.
func (e *rebuildEnv) committed(ctx context.Context, sk string) map[int32]int64 {
	e.t.Helper()
	resp, err := kadm.NewClient(e.cl).FetchOffsets(ctx, e.names.SinkGroup(sk))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		e.t.Fatalf("fetch offsets of %s: %v", e.names.SinkGroup(sk), err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == e.names.EventsTopic() {
			out[o.Partition] = o.At
		}
	})
	return out
}

// requireCommittedAtEnd fails unless sink sk's group has committed the end
// of every partition of the events topic (what `prism rebuild --execute`
// leaves for the restarted sink).
func (e *rebuildEnv) requireCommittedAtEnd(ctx context.Context, sk string) {
	e.t.Helper()
	ends, got := e.endOffsets(ctx), e.committed(ctx, sk)
	for p, end := range ends {
		if got[p] != end {
			e.t.Errorf("%s after the rebuild: committed %v, want the end offsets %v", e.names.SinkGroup(sk), got, ends)
			return
		}
	}
}

// keysIn reads the events topic's records in plan's ranges [from, to)
// (read committed) and returns their keys: it reads until a poll brings
// nothing for two seconds (transaction markers take the last offsets of a
// range, so the end cannot be told by the last record's offset).
func (e *rebuildEnv) keysIn(ctx context.Context, plan rebuildPlan) map[string]bool {
	e.t.Helper()
	parts := map[int32]kgo.Offset{}
	ends := map[int32]int64{}
	for _, pp := range plan.Partitions {
		if pp.From < pp.To {
			parts[pp.Partition] = kgo.NewOffset().At(pp.From)
			ends[pp.Partition] = pp.To
		}
	}
	keys := map[string]bool{}
	if len(parts) == 0 {
		return keys
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{plan.Topic: parts}))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Offset < ends[r.Partition] {
				keys[string(r.Key)] = true
			}
		})
		if n == 0 {
			return keys
		}
	}
	e.t.Fatalf("reading the plan's ranges took more than 30 s")
	return nil
}

// requireRefusedForMembers runs the in-place rebuild of sk while its sink
// runs: exit 1, stderr naming the group's member, nothing changed.
func (e *rebuildEnv) requireRefusedForMembers(ctx context.Context, sk string) {
	e.t.Helper()
	described, err := kadm.NewClient(e.cl).DescribeGroups(ctx, e.names.SinkGroup(sk))
	if err != nil {
		e.t.Fatal(err)
	}
	// A member as the group describes it: client id and host (the sink
	// sets no instance id).
	var who []string
	for _, g := range described {
		for _, m := range g.Members {
			who = append(who, m.ClientID+"@"+strings.TrimPrefix(m.ClientHost, "/"))
		}
	}
	if len(who) == 0 {
		e.t.Fatalf("group %s has no member while the sink runs", e.names.SinkGroup(sk))
	}
	r := e.rebuild(ctx, sk, "--aggregate", "payments", "--execute")
	named := false
	for _, w := range who {
		named = named || strings.Contains(r.stderr, w)
	}
	if r.code != 1 || !named {
		e.t.Errorf("rebuild %s --execute while its sink runs: exit %d, want 1 naming a member of %s (%v)\nstderr:\n%s",
			sk, r.code, e.names.SinkGroup(sk), who, lastLines(r.stderr, 20))
	}
}
