package integration

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestSinksPostgresAndReadModelsEndToEnd runs generated commands through
// the real processor into the postgres sink (two instances) and the
// readmodels sink, with faults during the run, and compares the tables
// with the outcome computed from the commands:
//   - the readmodels sink is SIGKILLed mid-run and restarted;
//   - one of the two postgres sink instances is stopped (SIGTERM, exit 0);
//   - Postgres is stopped for 15 s while events keep flowing: both sinks
//     report unhealthy on /healthz, then catch up when it is back.
func TestSinksPostgresAndReadModelsEndToEnd(t *testing.T) {
	n := sinkE2ECommands(t)
	e := newSinkEnv(t, 6)
	start := time.Now()
	cmds, x := generateSinkCommands(n, 11, e.ns)
	t.Logf("%d commands, %d payments, %d expected events, %d live at the end", len(cmds), len(x.payments), len(x.events), len(x.live()))
	ctx := sinkTestContext(t)

	proc := e.startProcessor("proc-1")
	pgA := e.startSink("sink-postgres-a", "postgres")
	pgB := e.startSink("sink-postgres-b", "postgres")
	rm1 := e.startSink("sink-readmodels-1", "readmodels")

	quarter := len(cmds) / 4
	e.produceCommands(ctx, cmds[:quarter])
	waitRows(t, e, "readmodels timeline", "payment_timeline", 1, 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	t.Log("fault 1: SIGKILL the readmodels sink mid-run, start a new one")
	rm1.kill(t)
	rm2 := e.startSink("sink-readmodels-2", "readmodels")

	e.produceCommands(ctx, cmds[quarter:2*quarter])
	time.Sleep(2 * time.Second)
	t.Log("fault 2: stop one of the two postgres sink instances")
	pgB.stop(t)

	t.Log("fault 3: Postgres down for 15 s while events flow")
	postgresDown(t)
	down := time.Now()
	e.produceCommands(ctx, cmds[2*quarter:3*quarter])
	unhealthy := map[string]bool{}
	for time.Since(down) < 15*time.Second {
		for _, p := range []*sinkProc{pgA, rm2} {
			if p.health() == http.StatusServiceUnavailable {
				unhealthy[p.name] = true
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	postgresUp(t)
	for _, p := range []*sinkProc{pgA, rm2} {
		if !unhealthy[p.name] {
			t.Errorf("%s never reported unhealthy on /healthz while Postgres was down", p.name)
		}
	}

	e.produceCommands(ctx, cmds[3*quarter:])
	e.waitEqual("payments table", 4*time.Minute, func(ctx context.Context) []string { return e.checkPostgresSink(ctx, x) })
	e.waitEqual("read models", 2*time.Minute, func(ctx context.Context) []string { return e.checkReadModels(ctx, x, start) })
	e.waitZeroLag(e.names.SinkGroup("postgres"), e.names.SinkGroup("readmodels"))
	for _, p := range []*sinkProc{pgA, rm2} {
		if code := p.health(); code != http.StatusOK {
			t.Errorf("%s /healthz after catching up: %d, want 200", p.name, code)
		}
	}
	pgA.stop(t)
	rm2.stop(t)
	proc.stop(t)
	t.Logf("pipeline caught up and matched in %s", time.Since(start).Round(time.Second))
}

func sinkTestContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// postgresDown stops the Postgres service; t.Cleanup brings it back even
// when the test fails.
func postgresDown(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { sinkServicesQuiet("up", "postgres") })
	sinkServices(t, "down", "postgres")
}

func postgresUp(t *testing.T) {
	t.Helper()
	sinkServices(t, "up", "postgres")
}

// waitRows waits until table has at least n rows.
func waitRows(t *testing.T, e *sinkEnv, what, table string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var got int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+e.table(table)).Scan(&got)
		if err == nil && got >= n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: fewer than %d rows after %s", what, n, timeout)
}
