package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
)

// TestReplayCommandsDLQBackToCommands puts valid commands on the commands
// DLQ, as the processor leaves them there (original key, value and headers
// plus the prism-dlq-* headers, in a transaction) when the cause was
// outside the command, and replays the DLQ to the commands topic with `prism replay` while the
// real processor runs: each command gets exactly one accepted result and
// its event. Replayed a second time, each gets one more result, answered
// duplicate, and the events topic gains nothing. Before that, the binary's
// dry run writes nothing and its refusals exit 2 (1 for a missing topic).
func TestReplayCommandsDLQBackToCommands(t *testing.T) {
	env := newProcEnv(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const payments = 40
	var cmds []*schemas.CommandEnvelope
	issued := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < payments; i++ {
		id := fmt.Sprintf("%s-p%03d", env.ns, i)
		create := &schemas.CommandEnvelope{CommandID: id + "-c1", Type: schemas.TypeCreatePayment, PaymentID: id,
			OrganizationID: "org-a", UserID: "u-1", IssuedAt: issued,
			Payload: schemas.CommandPayload{Create: &schemas.CreatePayment{AmountMinor: int64(100 + i), Currency: "EUR", Description: "replayed"}}}
		auth := &schemas.CommandEnvelope{CommandID: id + "-c2", Type: schemas.TypeChangePaymentStatus, PaymentID: id,
			OrganizationID: "org-a", UserID: "u-1", IssuedAt: issued.Add(time.Second),
			Payload: schemas.CommandPayload{ChangeStatus: &schemas.ChangePaymentStatus{Status: schemas.StatusAuthorized, Reason: "ok"}}}
		cmds = append(cmds, create, auth)
	}
	dlq, commands := env.names.CommandsDLQTopic(), env.names.CommandsTopic()
	recs := env.encode(cmds)
	for i, r := range recs {
		r.Topic = dlq
		r.Headers = append(r.Headers,
			kgo.RecordHeader{Key: records.HeaderDLQStage, Value: []byte("produce")},
			kgo.RecordHeader{Key: records.HeaderDLQMessage, Value: []byte("events topic unavailable")},
			kgo.RecordHeader{Key: records.HeaderDLQTopic, Value: []byte(commands)},
			kgo.RecordHeader{Key: records.HeaderDLQOffset, Value: []byte(fmt.Sprint(i))})
	}
	// Written in transactions, as the processor writes its DLQ: the
	// committed one holds the commands, an aborted one after it holds
	// records that must never be copied (and ends the topic with an abort
	// marker).
	txn, err := kgo.NewClient(kgo.SeedBrokers(env.brokers...), kgo.TransactionalID(env.ns+"-dlq-writer"))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	for _, commit := range []bool{true, false} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		batch := recs
		if !commit {
			batch = []*kgo.Record{{Topic: dlq, Key: recs[0].Key, Value: []byte("aborted")}, {Topic: dlq, Key: recs[1].Key, Value: []byte("aborted")}}
		}
		if err := txn.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	global := []string{"--namespace", env.ns, "--brokers", strings.Join(env.brokers, ",")}
	replay := func(extra ...string) cliRun {
		return runPrism(t, ctx, "", append(append(append([]string(nil), global...), "replay", "--progress", "none"), extra...)...)
	}
	commandsEnd := func() int64 {
		ends, err := kadm.NewClient(env.cl).ListEndOffsets(ctx, commands)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}

	// What the binary refuses, and the dry run.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--from-topic", dlq, "--to-topic", dlq}, 2, "both " + dlq},
		{[]string{"--from-topic", env.names.EventsTopic(), "--to-topic", env.names.EventsTopic()}, 2, "resurrect deleted aggregates"},
		{[]string{"--from-topic", env.names.EventsTopic(), "--to-topic", env.ns + ".copy.events"}, 2, "resurrect deleted aggregates"},
		{[]string{"--from-topic", dlq, "--to-topic", env.ns + ".nope"}, 1, env.ns + ".nope: topic does not exist"},
		{[]string{"--from-topic", dlq, "--to-topic", commands, "--from-datetime", "yesterday"}, 2, "not an RFC 3339 time"},
	} {
		r := replay(c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("replay %v: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	dry := replay("--from-topic", dlq, "--to-topic", commands, "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, fmt.Sprintf("read=%d copied=%d skipped=0 dry_run=true", len(cmds), len(cmds))) {
		t.Errorf("dry run: exit %d\nstdout %s\nstderr %s", dry.code, dry.stdout, dry.stderr)
	}
	if n := commandsEnd(); n != 0 {
		t.Fatalf("the dry run wrote %d records to %s", n, commands)
	}

	p := env.startProcessor("a")
	first := replay("--from-topic", dlq, "--to-topic", commands)
	if first.code != 0 || !strings.Contains(first.stdout, fmt.Sprintf("read=%d copied=%d skipped=0", len(cmds), len(cmds))) {
		t.Fatalf("replay: exit %d\nstdout %s\nstderr %s", first.code, first.stdout, first.stderr)
	}
	once := expectFor(cmds)
	if once.nEvents != len(cmds) {
		t.Fatalf("reference model: %d events for %d valid commands", once.nEvents, len(cmds))
	}
	results := env.readTopic(env.names.ResultsTopic(), once.nResults, 3*time.Minute)
	events := env.readTopic(env.names.EventsTopic(), once.nEvents, time.Minute)
	env.notePartitions(env.readTopic(commands, len(cmds), time.Minute))
	env.checkOutput(once, results, events)
	checkReplayResults(t, env, results, cmds, false)

	// The same replay again: every command is remembered by its payment.
	second := replay("--from-topic", dlq, "--to-topic", commands)
	if second.code != 0 || !strings.Contains(second.stdout, fmt.Sprintf("copied=%d", len(cmds))) {
		t.Fatalf("second replay: exit %d\nstdout %s\nstderr %s", second.code, second.stdout, second.stderr)
	}
	twice := expectFor(append(append([]*schemas.CommandEnvelope(nil), cmds...), cmds...))
	results = env.readTopic(env.names.ResultsTopic(), twice.nResults, 3*time.Minute)
	eventsAfter := env.readTopic(env.names.EventsTopic(), 0, time.Minute)
	if len(eventsAfter) != len(events) {
		t.Errorf("the second replay added %d events, want none", len(eventsAfter)-len(events))
	}
	env.checkOutput(twice, results, eventsAfter)
	checkReplayResults(t, env, results, cmds, true)

	// Each copy says where it came from; two runs, two ids.
	copies := env.readTopic(commands, 2*len(cmds), time.Minute)
	byID := map[string]int{}
	for _, c := range copies {
		if v, _ := procHeader(c, records.HeaderReplayTopic); v != dlq {
			t.Errorf("copy of %s: %s = %q, want %s", c.Key, records.HeaderReplayTopic, v, dlq)
		}
		if v, _ := procHeader(c, records.HeaderDLQStage); v != "produce" {
			t.Errorf("copy of %s lost its DLQ headers", c.Key)
		}
		id, _ := procHeader(c, records.HeaderReplayID)
		byID[id]++
	}
	if len(byID) != 2 {
		t.Errorf("copies carry replay ids %v, want two runs of %d", byID, len(cmds))
	}
	for id, n := range byID {
		if n != len(cmds) || !strings.Contains(first.stdout+second.stdout, "id="+id) {
			t.Errorf("replay id %s: %d copies (printed: %v), want %d", id, n, strings.Contains(first.stdout+second.stdout, id), len(cmds))
		}
	}
	p.stop(t)
}

// notePartitions records the commands partition of every key, as produce
// does, for checkOutput's co-partitioning check.
func (e *procEnv) notePartitions(recs []*kgo.Record) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range recs {
		e.partOf[string(r.Key)] = r.Partition
	}
}

// checkReplayResults checks what a user checks directly: each command has
// one accepted result per replay, the first new, the second a duplicate of
// the same version.
func checkReplayResults(t *testing.T, env *procEnv, results []*kgo.Record, cmds []*schemas.CommandEnvelope, twice bool) {
	t.Helper()
	got := map[string][]string{}
	for _, r := range results {
		res, err := env.codec.DecodeResult(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got[res.CommandID] = append(got[res.CommandID], fmt.Sprintf("accepted=%v duplicate=%v v%d", res.Accepted, res.Duplicate, res.EventVersion))
	}
	for i, c := range cmds {
		v := i%2 + 1 // create: version 1, authorize: version 2
		want := []string{fmt.Sprintf("accepted=true duplicate=false v%d", v)}
		if twice {
			want = append(want, fmt.Sprintf("accepted=true duplicate=true v%d", v))
		}
		if fmt.Sprint(got[c.CommandID]) != fmt.Sprint(want) {
			t.Errorf("results of %s: %v, want %v", c.CommandID, got[c.CommandID], want)
		}
	}
}

// TestReplayInterruptedBySIGINT stops a replay of a large range with
// SIGINT once it has started: it exits 0, its summary says interrupted,
// and the copies it reports are exactly what the target holds.
func TestReplayInterruptedBySIGINT(t *testing.T) {
	env := newProcEnv(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const n = 200_000
	dlq, commands := env.names.CommandsDLQTopic(), env.names.CommandsTopic()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: dlq, Key: []byte(fmt.Sprintf("k%d", i%1000)), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	if err := env.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, env.bin, "--namespace", env.ns, "--brokers", strings.Join(env.brokers, ","),
		"replay", "--from-topic", dlq, "--to-topic", commands, "--progress", "none")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var errOut strings.Builder
	for sc.Scan() {
		errOut.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "replay id ") {
			time.Sleep(100 * time.Millisecond) // reading has begun
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("replay after SIGINT: %v, want exit 0\nstdout %s\nstderr %s", err, stdout.String(), errOut.String())
	}
	m := regexp.MustCompile(`copied=(\d+) .*interrupted=true`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("summary does not say interrupted:\n%s", stdout.String())
	}
	copied, _ := strconv.ParseInt(m[1], 10, 64)
	ends, err := kadm.NewClient(env.cl).ListEndOffsets(ctx, commands)
	if err != nil {
		t.Fatal(err)
	}
	var written int64
	ends.Each(func(o kadm.ListedOffset) { written += o.Offset })
	if written != copied || copied >= n {
		t.Errorf("summary copied=%d, the target holds %d: want equal and below %d", copied, written, n)
	}
	t.Logf("interrupted after copying %d of %d records", copied, n)
}
