package integration

// `prism produce --file` input checks (issue 8) through the real binary:
// what the processor would reject for sure is rejected at the line, records
// too large for the commands topic are found before anything is produced,
// and --wait gives each send of a repeated command id its own result.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/topology"
)

func TestProduceFileRejectsWhatTheProcessorWould(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	const ids = `"commandId":"x","paymentId":"p-9","organizationId":"o","userId":"u"`
	lines := []struct{ line, want string }{
		{`{"type":"DeletePayment",` + ids + `}`, ""}, // valid
		{`{"type":"DeletePayment","commandId":"x","PaymentId":"p-9","organizationId":"o","userId":"u"}`, `field PaymentId: unknown field (keys are case-sensitive: "paymentId")`},
		{`{"type":"DeletePayment",` + ids + `,"paymentId":"p-10"}`, "field paymentId: given twice"},
		{`{"type":"CreatePayment",` + ids + `,"amount":"0","currency":"EUR"}`, `field amount: "0" must be greater than 0`},
		{`{"type":"CreatePayment",` + ids + `,"amount":"-1","currency":"EUR"}`, `field amount: "-1" must be greater than 0`},
		{`{"type":"CreatePayment",` + ids + `,"amount":"1","currency":"EUR","description":"` + strings.Repeat("é", 1001) + `"}`, "field description: is 1001 characters long, at most 1000 allowed"},
		{`{"type":"CreatePayment",` + ids + `,"amount":"1","currency":"EUR","description":"` + strings.Repeat("😀", 1000) + `"}`, ""}, // at the limit
		{`{"type":"CreatePayment",` + ids + `,"amount":"1","currency":"EUR","description":"gpu\u0000"}`, "field description: contains the control character U+0000 at character 4"},
		{`{"type":"DeletePayment",` + ids + `,"reason":"caf` + "\xe9" + `"}`, "not valid UTF-8"},
		{`{"type":"DeletePayment",` + ids + `,"reason":"\ud800"}`, `not valid UTF-8: the escape \ud800 is an unpaired surrogate`},
	}
	var file strings.Builder
	for _, l := range lines {
		file.WriteString(l.line + "\n")
	}
	run := e.prism(t, ctx, nil, "--file", writeFile(t, "bad.jsonl", file.String()))
	if run.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", run.code, run.stderr)
	}
	reported := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(run.stderr), "\n") {
		reported[l] = true
	}
	for i, l := range lines {
		want := fmt.Sprintf("line %d: %s", i+1, l.want)
		if l.want == "" {
			if strings.Contains(run.stderr, fmt.Sprintf("line %d: ", i+1)) {
				t.Errorf("valid line %d reported:\n%s", i+1, run.stderr)
			}
		} else if !reported[want] {
			t.Errorf("stderr has no line %q:\n%s", want, run.stderr)
		}
	}
	if n := e.recordCount(t, ctx, e.names.CommandsTopic()); n != 0 {
		t.Fatalf("%d records produced, want 0", n)
	}
}

// TestProduceFileChecksRecordSizeFirst: with the commands topic at the
// smallest max.message.bytes Prism allows (1024), a 1000-character
// description makes a record too large; it is reported with its line number
// before anything is produced (exit 3), and --skip-invalid produces the rest.
func TestProduceFileChecksRecordSizeFirst(t *testing.T) {
	t.Parallel()
	e := newProdEnvSpec(t, topology.SpecConfig{Namespace: testkit.Namespace(t), Partitions: 3, MaxMessageBytes: 1024})
	ctx := testkit.Context(t, 3*time.Minute)
	small := func(id string) string {
		return `{"type":"CreatePayment","commandId":"` + id + `","paymentId":"p-` + id + `","organizationId":"o","userId":"u","amount":"1","currency":"EUR","description":"small"}`
	}
	big := `{"type":"CreatePayment","commandId":"c-2","paymentId":"p-2","organizationId":"o","userId":"u","amount":"1","currency":"EUR","description":"` + strings.Repeat("é", 1000) + `"}`
	path := writeFile(t, "big.jsonl", small("c-1")+"\n"+big+"\n"+small("c-3")+"\n")
	run := e.prism(t, ctx, nil, "--file", path)
	if run.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", run.code, run.stderr)
	}
	t.Logf("prism produce stderr:\n%s", run.stderr)
	if !strings.Contains(run.stderr, "line 2: its record is ") || !strings.Contains(run.stderr, "more than the 1024 bytes") ||
		strings.Contains(run.stderr, "line 1:") || strings.Contains(run.stderr, "line 3:") {
		t.Errorf("stderr does not report exactly line 2 as too large:\n%s", run.stderr)
	}
	if want := "error: produce: 1 invalid line, nothing produced (fix them, or use --skip-invalid to produce the valid lines)"; lastLines(run.stderr, 1) != want {
		t.Errorf("last stderr line %q, want %q", lastLines(run.stderr, 1), want)
	}
	if n := e.recordCount(t, ctx, e.names.CommandsTopic()); n != 0 {
		t.Fatalf("%d records produced, want 0", n)
	}
	run = e.prism(t, ctx, nil, "--file", path, "--skip-invalid")
	if run.code != 0 || !strings.Contains(run.stderr, "skipped line 2: its record is ") || !strings.Contains(run.stderr, "summary: produced=2 skipped=1 failed=0") {
		t.Fatalf("--skip-invalid: exit %d, want 0, line 2 skipped and 2 produced:\n%s", run.code, run.stderr)
	}
	if n := e.recordCount(t, ctx, e.names.CommandsTopic()); n != 2 {
		t.Fatalf("%d records produced, want 2", n)
	}
}

// TestRecordSizeMatchesTheBroker checks the size OversizedLines computes
// against the broker itself: uncompressed, a command record fits a topic
// whose max.message.bytes is that size and not one byte less.
func TestRecordSizeMatchesTheBroker(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, 3*time.Minute)
	cmd := &schemas.CommandEnvelope{CommandID: "c-1", Type: schemas.TypeCreatePayment, PaymentID: "p-1", OrganizationID: "o", UserID: "u",
		CorrelationID: "w", IssuedAt: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC),
		Payload: schemas.CommandPayload{Create: &schemas.CreatePayment{AmountMinor: 1, Currency: "EUR", Description: strings.Repeat("é", 600)}}}
	lines := []producers.Parsed{{Line: 1, Command: cmd}}
	newProducer := func(e *prodEnv) *producers.CommandProducer {
		p, err := producers.NewCommandProducer(producers.Config{
			Kafka: kafkaconn.Config{Brokers: e.brokers}, Aggregates: []producers.Aggregate{paymentAggregate(e.names, e.codec)}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DeliveryTimeout: 30 * time.Second,
			ExtraOpts: []kgo.Opt{kgo.ProducerBatchCompression(kgo.NoCompression())},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	// The size: the smallest limit OversizedLines lets the record through.
	probeEnv := newProdEnvSpec(t, topology.SpecConfig{Namespace: testkit.Namespace(t) + "a", Partitions: 1})
	probe, probeTopic := newProducer(probeEnv), probeEnv.names.CommandsTopic()
	size := 0
	for limit := 1024; limit < 4096; limit++ {
		bad, err := probe.OversizedLines(lines, map[string]int{probeTopic: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) == 0 {
			size = limit
			break
		}
	}
	if size == 0 {
		t.Fatal("no limit between 1024 and 4096 bytes lets the record through")
	}
	for _, tc := range []struct {
		limit int
		fits  bool
	}{{size, true}, {size - 1, false}} {
		e := newProdEnvSpec(t, topology.SpecConfig{Namespace: fmt.Sprintf("%sm%d", testkit.Namespace(t), tc.limit), Partitions: 1, MaxMessageBytes: int32(tc.limit)})
		p := newProducer(e)
		limit, fromTopic, err := p.RecordLimit(ctx, e.names.CommandsTopic())
		if err != nil || !fromTopic || limit != tc.limit {
			t.Fatalf("RecordLimit = %d, %v, %v; want %d read from the topic", limit, fromTopic, err, tc.limit)
		}
		_, _, err = p.Send(ctx, cmd)
		switch {
		case tc.fits && err != nil:
			t.Errorf("max.message.bytes %d (the computed size): send failed: %v", tc.limit, err)
		case !tc.fits && !errors.Is(err, kerr.MessageTooLarge):
			t.Errorf("max.message.bytes %d (one less than the computed size): send error %v, want MESSAGE_TOO_LARGE", tc.limit, err)
		}
	}
}

// TestProduceWaitRepeatedCommandIDGetsEachResult: a command id twice in one
// file, against the real processor: two results printed in order, the
// second `duplicate: true`, and the summary counts one accepted and one
// duplicate.
func TestProduceWaitRepeatedCommandIDGetsEachResult(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 4*time.Minute)
	e.startProcessor(t, ctx, "dup-test")
	create := `{"type":"CreatePayment","commandId":"c-1","paymentId":"p-1","organizationId":"o","userId":"u","amount":"1.00","currency":"EUR"}`
	other := `{"type":"CreatePayment","commandId":"c-2","paymentId":"p-2","organizationId":"o","userId":"u","amount":"2.00","currency":"EUR"}`
	run := e.prism(t, ctx, nil, "--file", writeFile(t, "dup.jsonl", create+"\n"+other+"\n"+create+"\n"), "--wait", "--wait-timeout", "120s")
	if run.code != 0 {
		t.Fatalf("exit %d\n%s", run.code, run.stderr)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(run.stdout))
	for sc.Scan() {
		var r schemas.CommandResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		if r.CommandID == "c-1" {
			got = append(got, fmt.Sprintf("accepted=%v duplicate=%v version=%d", r.Accepted, r.Duplicate, r.EventVersion))
		}
	}
	if want := "accepted=true duplicate=false version=1|accepted=true duplicate=true version=1"; strings.Join(got, "|") != want {
		t.Errorf("results of c-1: %q, want %q\n%s", got, want, run.stdout)
	}
	if !strings.Contains(run.stderr, "summary: produced=3 skipped=0 failed=0 accepted=2 rejected=0 unanswered=0 duplicates=1") {
		t.Errorf("summary wrong:\n%s", run.stderr)
	}
}
