package integration

import (
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// TestRebuildInterruptedResume interrupts an in-place rebuild of the
// postgres sink (SIGINT once rows are written, small batches over a
// history of some 20,000 events produced directly on the events topic):
// it exits 130 with part of the table written, `prism rebuild status`
// shows it interrupted with the command to resume, and `--resume`
// goes on from where it stopped (it writes fewer records than the history
// holds) and finishes it: the payments table then equals the state
// computed from the produced events, and status no longer offers to
// resume it.
func TestRebuildInterruptedResume(t *testing.T) {
	e := newRebuildEnv(t, 3)
	ctx := testkit.Context(t, 3*time.Minute)
	evs := kvStream(e.names.EventsTopic(), 3, 5000, 21)
	kvProduce(t, ctx, e.sinkEnv, evs)
	want := kvExpected(evs)
	t.Logf("%d events, %d payments at the end", len(evs), len(want))

	rows := func() int {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM `+e.table("payments")).Scan(&n); err != nil {
			return -1 // not created yet
		}
		return n
	}
	p := startPrismProc(t, e.bin, "rebuild", e.rebuildArgs("postgres", "--aggregate", "payments", "--execute", "--batch-max-records", "20")...)
	deadline := time.Now().Add(30 * time.Second)
	for rows() <= 0 {
		select {
		case <-p.done:
			t.Fatalf("rebuild ended before writing a row: %v\n%s", p.err, tailFile(p.log, 30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no row written within 30 s\n%s", tailFile(p.log, 30))
		}
		time.Sleep(20 * time.Millisecond)
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
		t.Fatalf("rebuild after SIGINT: %v, want exit 130\n%s", p.err, tailFile(p.log, 30))
	}
	written := rows()
	if written <= 0 || written >= len(want) {
		t.Fatalf("interrupted with %d rows written of %d: want part of them (a larger history or smaller batches)", written, len(want))
	}
	t.Logf("interrupted with %d of %d rows written", written, len(want))

	status := e.mustRebuild(ctx, "status")
	if !strings.Contains(status.stdout, "postgres") || !strings.Contains(strings.ToLower(status.stdout), "interrupted") || !strings.Contains(status.stdout, "--resume") {
		t.Errorf("rebuild status after the interruption: want the postgres rebuild shown interrupted with the command to resume:\n%s", status.stdout)
	}
	statusJSON := e.mustRebuild(ctx, "status", "--json")
	if !strings.Contains(statusJSON.stdout, "postgres") || !strings.Contains(strings.ToLower(statusJSON.stdout), "interrupted") {
		t.Errorf("rebuild status --json after the interruption: want the postgres rebuild shown interrupted:\n%s", statusJSON.stdout)
	}

	// The resumed run goes on where the first stopped: it writes fewer
	// records than the history holds (its last progress line says how many).
	resumed := e.mustRebuild(ctx, "postgres", "--aggregate", "payments", "--resume", "--execute", "--progress", "log")
	m := regexp.MustCompile(`rebuild progress: done".* done=(\d+) `).FindStringSubmatch(resumed.stderr)
	if m == nil {
		t.Fatalf("the resumed rebuild logged no final progress line:\n%s", lastLines(resumed.stderr, 20))
	}
	done, _ := strconv.Atoi(m[1])
	t.Logf("the resumed rebuild wrote %d of %d records", done, len(evs))
	if done <= 0 || done >= len(evs) {
		t.Errorf("the resumed rebuild wrote %d records, want fewer than the %d of the history (it goes on, it does not start again)", done, len(evs))
	}
	got, err := payment.ReadPayments(ctx, e.pool, e.schema)
	if err != nil {
		t.Fatal(err)
	}
	if d := sinktest.DiffPayments(want, got, 10); len(d) > 0 {
		t.Errorf("payments after the resumed rebuild:\n  %s", strings.Join(d, "\n  "))
	}
	e.requireCommittedAtEnd(ctx, "postgres")
	status = e.mustRebuild(ctx, "status")
	if strings.Contains(status.stdout, "--resume") {
		t.Errorf("rebuild status after the resumed rebuild still offers to resume:\n%s", status.stdout)
	}
}
