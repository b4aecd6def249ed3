package integration

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestRebuildAllAndRollback: `prism rebuild all` plans and then rebuilds
// every sink of the aggregate in place (the four targets, corrupted by
// hand, equal the expectation after it); a side-by-side rebuild
// interrupted by SIGINT is shown in status with its rollback, and
// `prism rebuild rollback` drops the half-built version while version 1
// keeps serving, untouched.
func TestRebuildAllAndRollback(t *testing.T) {
	e := newRebuildEnv(t, 3)
	ctx := testkit.Context(t, 4*time.Minute)
	e.startSinks(serveSinks...)
	e.produceCommands(ctx, e.commands(400, ""))
	e.waitSinks(time.Minute, serveSinks...)
	ids := e.livePaymentIDs(nil)

	plan := e.mustRebuild(ctx, "all", "--aggregate", "payments", "--json")
	var jobs []struct {
		Sink string `json:"sink"`
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal([]byte(plan.stdout), &jobs); err != nil {
		t.Fatalf("rebuild all --json: %v\n%s", err, plan.stdout)
	}
	var sinksPlanned []string
	for _, j := range jobs {
		sinksPlanned = append(sinksPlanned, j.Sink+":"+j.Mode)
	}
	if strings.Join(sinksPlanned, ",") != "elasticsearch:in-place,postgres:in-place,readmodels:in-place,redis:in-place" {
		t.Fatalf("rebuild all planned %v, want the four sinks in place", sinksPlanned)
	}

	for _, sk := range serveSinks {
		e.stopSink(sk)
		e.corrupt(ctx, sk, ids, true, sk == "elasticsearch")
		e.requireDiffers(ctx, sk, "corrupted")
	}
	e.mustRebuild(ctx, "all", "--aggregate", "payments", "--execute", "--progress", "log")
	for _, sk := range serveSinks {
		e.requireEqual(ctx, sk, "after rebuild all")
	}

	// An interrupted side-by-side rebuild of the postgres sink, rolled back.
	versionSchema := e.schema + "_r2_postgres_payments"
	exists := func() bool {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, versionSchema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	p := startPrismProc(t, e.bin, "rebuild-sbs", e.rebuildArgs("postgres", "--aggregate", "payments", "--side-by-side", "--execute", "--batch-max-records", "1")...)
	for deadline := time.Now().Add(30 * time.Second); !exists(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no schema %s within 30 s of the side-by-side rebuild's start\n%s", versionSchema, tailFile(p.log, 30))
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("rebuild did not exit within 30 s of SIGINT\n%s", tailFile(p.log, 30))
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("side-by-side rebuild after SIGINT: %v, want exit 130 (one event per batch: it cannot have finished)\n%s", p.err, tailFile(p.log, 30))
	}
	if !exists() {
		t.Fatalf("after the interrupted side-by-side rebuild there is no schema %s", versionSchema)
	}
	status := e.mustRebuild(ctx, "status")
	if !strings.Contains(status.stdout, "rollback: prism rebuild rollback postgres --aggregate payments") {
		t.Fatalf("status does not offer the rollback:\n%s", status.stdout)
	}
	rb := e.mustRebuild(ctx, "rollback", "postgres", "--aggregate", "payments")
	if !strings.Contains(rb.stdout, "version 2 dropped, version 1 serves") {
		t.Errorf("rollback said:\n%s", rb.stdout)
	}
	if exists() {
		t.Errorf("schema %s still there after the rollback", versionSchema)
	}
	e.requireEqual(ctx, "postgres", "after the rollback")
	var tbl string
	if err := e.pool.QueryRow(ctx, `SELECT to_regclass($1)::text`, pgx.Identifier{e.schema, "payments"}.Sanitize()).Scan(&tbl); err != nil || tbl == "" {
		t.Errorf("the live payments table: %q, %v", tbl, err)
	}
	status = e.mustRebuild(ctx, "status")
	if strings.Contains(status.stdout, "rollback: prism rebuild rollback postgres") || !strings.Contains(status.stdout, "rolled-back") {
		t.Errorf("status after the rollback: want the postgres rebuild rolled-back and no rollback offered:\n%s", status.stdout)
	}
	if r := e.rebuild(ctx, "rollback", "postgres", "--aggregate", "payments"); r.code != 1 {
		t.Errorf("a second rollback: exit %d, want 1 (nothing to roll back)\n%s", r.code, r.stderr)
	}
}
