package integration

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/invoice/schemas"
)

// TestRebuildInPlace runs the pipeline with the four sinks on generated
// payment commands, then for each sink: `prism rebuild <sink> --execute`
// refuses while the sink runs (exit 1, naming the member, nothing
// changed); the target is corrupted by hand (rows deleted and changed, a
// payment that never existed added, read model totals shifted, timeline
// rows deleted, Redis keys deleted and changed, the Elasticsearch index
// dropped); the in-place rebuild from earliest makes it equal the
// expectation computed from the commands again and leaves the sink group
// committed at the end. The postgres sink is stopped while a rebuild with
// --stop-timeout waits for it. The restarted sinks then apply new commands
// from where the rebuild ended: nothing applied twice (the summary's
// deltas would show it), nothing missed.
func TestRebuildInPlace(t *testing.T) {
	e := newRebuildEnv(t, 3)
	ctx := testkit.Context(t, 3*time.Minute)
	e.startSinks(serveSinks...)
	e.produceCommands(ctx, e.commands(600, ""))
	e.waitSinks(time.Minute, serveSinks...)
	ids := e.livePaymentIDs(nil)

	for _, sk := range serveSinks {
		e.requireRefusedForMembers(ctx, sk)
		e.requireEqual(ctx, sk, "after the refused rebuild")
		if sk == "postgres" {
			// Corrupted while the sink runs (no new events: it stays so),
			// then a rebuild waits for the sink to leave.
			e.corrupt(ctx, sk, ids, true, false)
			e.requireDiffers(ctx, sk, "corrupted")
			type result struct {
				r    cliRun
				took time.Duration
			}
			done := make(chan result, 1)
			go func() {
				start := time.Now()
				r := runPrism(t, ctx, "", e.rebuildArgs(sk, "--aggregate", "payments", "--execute", "--stop-timeout", "40s")...)
				done <- result{r, time.Since(start)}
			}()
			time.Sleep(3 * time.Second)
			select {
			case res := <-done:
				t.Fatalf("rebuild --stop-timeout 40s ended while the sink ran: exit %d\n%s", res.r.code, lastLines(res.r.stderr, 20))
			default:
			}
			stopped := time.Now()
			e.stopSink(sk)
			res := <-done
			if res.r.code != 0 || res.took < 3*time.Second {
				t.Fatalf("rebuild --stop-timeout 40s: exit %d after %s, want 0 once the sink left\nstdout:\n%s\nstderr:\n%s",
					res.r.code, res.took, res.r.stdout, lastLines(res.r.stderr, 30))
			}
			t.Logf("rebuild --stop-timeout: done %s after the sink stopped", time.Since(stopped).Round(10*time.Millisecond))
		} else {
			e.stopSink(sk)
			e.corrupt(ctx, sk, ids[len(ids)/2:], true, sk == "elasticsearch")
			e.requireDiffers(ctx, sk, "corrupted")
			e.mustRebuild(ctx, sk, "--aggregate", "payments", "--execute")
		}
		e.requireEqual(ctx, sk, "after the in-place rebuild")
		e.requireCommittedAtEnd(ctx, sk)
		e.startOneSink(sk)
	}

	// The restarted sinks continue from the end the rebuilds reached.
	e.produceCommands(ctx, e.commands(200, ""))
	e.waitSinks(time.Minute, serveSinks...)
	e.proc.stop(t)
	for sk, p := range e.sinks {
		p.stop(t)
		delete(e.sinks, sk)
	}
}

// TestRebuildInPlaceInvoices does the in-place rebuild for the invoice
// aggregate (--aggregate invoices) on its postgres and elasticsearch
// sinks: rows deleted and changed, the index dropped, then both equal
// the invoice generator's expectation again.
func TestRebuildInPlaceInvoices(t *testing.T) {
	e := newInvEnv(t, 2)
	ctx := testkit.Context(t, 3*time.Minute)
	e.startProcessor("proc-1")
	for _, sk := range []string{"postgres", "elasticsearch"} {
		e.startSink("sink-"+sk, sk)
	}
	path, gen, _ := e.generate(300, 7, 0)
	e.produceFile(ctx, path)
	want := expectedInvoices(gen)
	readers := map[string]func(ctx context.Context) (map[string]*schemas.Invoice, error){
		"postgres": e.postgresInvoices, "elasticsearch": e.esInvoices,
	}
	diff := func(sk string) func() ([]string, error) {
		return func() ([]string, error) {
			got, err := readers[sk](ctx)
			if err != nil {
				return nil, err
			}
			return compareInvoices(sk, want, got), nil
		}
	}
	for _, sk := range []string{"postgres", "elasticsearch"} {
		waitEqual(t, sk+" invoices", time.Minute, diff(sk))
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) < 10 {
		t.Fatalf("%d invoices, want at least 10", len(ids))
	}
	for _, sk := range []string{"postgres", "elasticsearch"} {
		e.procs["sink-"+sk].stop(t)
		switch sk {
		case "postgres":
			table := e.schema + ".invoices"
			if _, err := e.pool.Exec(ctx, `DELETE FROM `+table+` WHERE id = ANY($1)`, ids[:3]); err != nil {
				t.Fatal(err)
			}
			if _, err := e.pool.Exec(ctx, `UPDATE `+table+` SET total_minor = total_minor + 1, status = 'VOID' WHERE id = ANY($1)`, ids[3:6]); err != nil {
				t.Fatal(err)
			}
		case "elasticsearch":
			if err := e.esCall(ctx, http.MethodDelete, "/"+e.names.ElasticsearchIndex(1), nil, nil); err != nil {
				t.Fatalf("delete index %s: %v", e.names.ElasticsearchIndex(1), err)
			}
		}
		if d, err := diff(sk)(); err == nil && len(d) == 0 {
			t.Fatalf("%s: the corruption is not visible", sk)
		}
		r := runPrism(t, ctx, "", e.global("rebuild", sk, "--aggregate", "invoices", "--execute")...)
		if r.code != 0 {
			t.Fatalf("rebuild %s --aggregate invoices --execute: exit %d\nstdout:\n%s\nstderr:\n%s", sk, r.code, r.stdout, lastLines(r.stderr, 30))
		}
		if d, err := diff(sk)(); err != nil || len(d) > 0 {
			t.Fatalf("%s invoices after the rebuild: %v\n  %s", sk, err, strings.Join(d[:min(len(d), 8)], "\n  "))
		}
	}
}
