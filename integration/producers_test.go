package integration

// Producers against the real broker: `prism produce` (the real binary) writes
// what the JSON Lines file says, byte for byte in the fields that matter;
// an invalid file produces nothing; --skip-invalid produces only the valid
// lines; SendAndWait and --wait get the results a test goroutine writes to
// the results topic; the generator writes the same file twice and produces
// it. BenchmarkProduceGenerate measures the generate+produce path beside a
// bare franz-go loop of the same bytes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// prodEnv is one namespace with its topics on the real broker.
// paymentAggregate is the payment aggregate of names for a producer.
func paymentAggregate(names topology.Names, codec *schemas.Codec) producers.Aggregate {
	return producers.Aggregate{Name: "payment", CommandsTopic: names.CommandsTopic(), ResultsTopic: names.ResultsTopic(),
		Commands: payment.NewCommandCodec(codec), Results: codec.Results()}
}

type prodEnv struct {
	brokers []string
	names   topology.Names
	client  *kgo.Client
	codec   *schemas.Codec
}

func newProdEnv(t testing.TB) *prodEnv {
	t.Helper()
	return newProdEnvSpec(t, topology.SpecConfig{Namespace: testkit.Namespace(t), Partitions: 6})
}

// newProdEnvSpec is newProdEnv with the topics of cfg, for every aggregate
// the binary serves (cfg.Aggregates nil), so that a processor it starts
// finds all its topics.
func newProdEnvSpec(t testing.TB, cfg topology.SpecConfig) *prodEnv {
	t.Helper()
	if cfg.Aggregates == nil {
		cfg.Aggregates = registeredPlurals(t)
	}
	brokers := testkit.KafkaBrokers(t)
	ctx := testkit.Context(t, 2*time.Minute)
	spec, err := topology.NewSpec(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if err := topology.EnsureTopics(ctx, cl, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := topology.DeleteTopics(ctx, cl, spec); err != nil {
			t.Logf("delete topics: %v", err)
		}
	})
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &prodEnv{brokers: brokers, names: spec.Names("payments"), client: cl, codec: codec}
}

// prismRun is the output and exit code of one run of the binary.
type prismRun = cliRun

// prism runs the real binary with the namespace's connection flags.
func (e *prodEnv) prism(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) prismRun {
	t.Helper()
	args = append([]string{"produce", "--namespace", e.names.Namespace, "--brokers", strings.Join(e.brokers, ","), "--progress", "none"}, args...)
	return runPrismIn(t, ctx, nil, stdin, args...)
}

// endOffsets sums the end offsets of topic's partitions.
func (e *prodEnv) recordCount(t *testing.T, ctx context.Context, topic string) int64 {
	t.Helper()
	ends, err := kadm.NewClient(e.client).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// consumeAll reads every record of topic (read_committed).
func (e *prodEnv) consumeAll(t *testing.T, ctx context.Context, topic string) []*kgo.Record {
	t.Helper()
	want := e.recordCount(t, ctx, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(out), want, topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// fileLine is the test's own reading of a JSON Lines command.
type fileLine struct {
	Type            string  `json:"type"`
	CommandID       string  `json:"commandId"`
	PaymentID       string  `json:"paymentId"`
	OrganizationID  string  `json:"organizationId"`
	UserID          string  `json:"userId"`
	Amount          *string `json:"amount"`
	Currency        *string `json:"currency"`
	Description     *string `json:"description"`
	Status          *string `json:"status"`
	Reason          *string `json:"reason"`
	ExpectedVersion *int64  `json:"expectedVersion"`
	CorrelationID   string  `json:"correlationId"`
	CausationID     string  `json:"causationId"`
	IssuedAt        string  `json:"issuedAt"`
}

// minorUnits converts a decimal string to minor units with the test's own
// table of decimals (the currencies the tests use).
func minorUnits(t *testing.T, amount, currency string) int64 {
	t.Helper()
	digits := map[string]int{"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "JPY": 0, "KWD": 3}[currency]
	neg := strings.HasPrefix(amount, "-")
	amount = strings.TrimPrefix(amount, "-")
	whole, frac, _ := strings.Cut(amount, ".")
	frac += strings.Repeat("0", digits-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		t.Fatalf("amount %q: %v", amount, err)
	}
	if neg {
		v = -v
	}
	return v
}

// checkRecord compares one produced record with the line it came from.
func (e *prodEnv) checkRecord(t *testing.T, r *kgo.Record, l fileLine) {
	t.Helper()
	if string(r.Key) != l.PaymentID {
		t.Errorf("%s: key %q, want %q", l.CommandID, r.Key, l.PaymentID)
	}
	hs := map[string]string{}
	for _, h := range r.Headers {
		hs[h.Key] = string(h.Value)
	}
	wantHeaders := map[string]string{
		records.HeaderType: l.Type, records.HeaderCommandID: l.CommandID,
		records.HeaderCorrelationID: l.CorrelationID, records.HeaderCausationID: l.CausationID,
		records.HeaderSchema: fmt.Sprintf("%016x", e.codec.CommandFingerprint()),
	}
	for k, v := range wantHeaders {
		if got, ok := hs[k]; !ok || got != v {
			t.Errorf("%s: header %s = %q (present %v), want %q", l.CommandID, k, got, ok, v)
		}
	}
	c, err := e.codec.DecodeCommand(r.Value)
	if err != nil {
		t.Fatalf("%s: decode: %v", l.CommandID, err)
	}
	if c.CommandID != l.CommandID || c.Type != l.Type || c.PaymentID != l.PaymentID || c.OrganizationID != l.OrganizationID ||
		c.UserID != l.UserID || c.CorrelationID != l.CorrelationID || c.CausationID != l.CausationID {
		t.Errorf("%s: envelope ids %+v differ from the line %+v", l.CommandID, c, l)
	}
	if (c.ExpectedVersion == nil) != (l.ExpectedVersion == nil) || (c.ExpectedVersion != nil && *c.ExpectedVersion != *l.ExpectedVersion) {
		t.Errorf("%s: expectedVersion %v, want %v", l.CommandID, c.ExpectedVersion, l.ExpectedVersion)
	}
	if l.IssuedAt != "" {
		want, _ := time.Parse(time.RFC3339Nano, l.IssuedAt)
		if !c.IssuedAt.Equal(want) {
			t.Errorf("%s: issuedAt %v, want %v", l.CommandID, c.IssuedAt, want)
		}
	} else if time.Since(c.IssuedAt) > 10*time.Minute || c.IssuedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("%s: issuedAt %v not stamped at send time", l.CommandID, c.IssuedAt)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	p := c.Payload
	switch l.Type {
	case schemas.TypeCreatePayment:
		if p.Create == nil || p.Create.AmountMinor != minorUnits(t, *l.Amount, *l.Currency) || p.Create.Currency != *l.Currency || p.Create.Description != str(l.Description) {
			t.Errorf("%s: create payload %+v, line amount %s %s %q", l.CommandID, p.Create, *l.Amount, *l.Currency, str(l.Description))
		}
	case schemas.TypeUpdatePayment:
		u := p.Update
		if u == nil || (u.AmountMinor == nil) != (l.Amount == nil) || (u.Description == nil) != (l.Description == nil) {
			t.Fatalf("%s: update payload %+v does not match the line", l.CommandID, u)
		}
		if l.Amount != nil && (*u.AmountMinor != minorUnits(t, *l.Amount, *l.Currency) || u.Currency == nil || *u.Currency != *l.Currency) {
			t.Errorf("%s: update amount %d %v, line %s %s", l.CommandID, *u.AmountMinor, u.Currency, *l.Amount, *l.Currency)
		}
		if l.Description != nil && *u.Description != *l.Description {
			t.Errorf("%s: update description %q, line %q", l.CommandID, *u.Description, *l.Description)
		}
	case schemas.TypeChangePaymentStatus:
		if p.ChangeStatus == nil || string(p.ChangeStatus.Status) != *l.Status || p.ChangeStatus.Reason != str(l.Reason) {
			t.Errorf("%s: status payload %+v, line %s %q", l.CommandID, p.ChangeStatus, *l.Status, str(l.Reason))
		}
	case schemas.TypeDeletePayment:
		if p.Delete == nil || p.Delete.Reason != str(l.Reason) {
			t.Errorf("%s: delete payload %+v, line reason %q", l.CommandID, p.Delete, str(l.Reason))
		}
	}
}

func readLines(t *testing.T, data []byte) []fileLine {
	t.Helper()
	var out []fileLine
	for i, raw := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var l fileLine
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		out = append(out, l)
	}
	return out
}

// checkProduced reads the commands topic back and compares every record
// with its line, and the order of each payment's commands with the file's.
func (e *prodEnv) checkProduced(t *testing.T, ctx context.Context, lines []fileLine) {
	t.Helper()
	recs := e.consumeAll(t, ctx, e.names.CommandsTopic())
	if len(recs) != len(lines) {
		t.Fatalf("%d records on %s, want %d", len(recs), e.names.CommandsTopic(), len(lines))
	}
	byID := map[string]fileLine{}
	order := map[string]int{}
	for i, l := range lines {
		byID[l.CommandID] = l
		order[l.CommandID] = i
	}
	lastPos := map[string]int{}
	partOf := map[string]int32{}
	for _, r := range recs {
		var id string
		for _, h := range r.Headers {
			if h.Key == records.HeaderCommandID {
				id = string(h.Value)
			}
		}
		l, ok := byID[id]
		if !ok {
			t.Fatalf("record with command id %q is not in the file (or produced twice)", id)
		}
		delete(byID, id)
		e.checkRecord(t, r, l)
		key := string(r.Key)
		if p, seen := partOf[key]; seen && p != r.Partition {
			t.Errorf("payment %s on partitions %d and %d", key, p, r.Partition)
		}
		partOf[key] = r.Partition
		if prev, seen := lastPos[key]; seen && prev > order[id] {
			t.Errorf("payment %s: command %s (line %d) after line %d", key, id, order[id]+1, prev+1)
		}
		lastPos[key] = order[id]
	}
}

const prodValidFile = `{"type":"CreatePayment","commandId":"c-1","paymentId":"p-1","organizationId":"org-1","userId":"u-1","amount":"100.00","currency":"EUR","description":"GPU hours","correlationId":"wf-9"}
{"type":"UpdatePayment","commandId":"c-2","paymentId":"p-1","organizationId":"org-1","userId":"u-1","amount":"120.5","currency":"EUR","expectedVersion":1,"correlationId":"wf-9","causationId":"c-1"}
{"type":"CreatePayment","commandId":"c-3","paymentId":"p-2","organizationId":"org-2","userId":"u-7","amount":"1500","currency":"JPY","correlationId":"wf-10","issuedAt":"2026-01-02T03:04:05Z"}

{"type":"ChangePaymentStatus","commandId":"c-4","paymentId":"p-1","organizationId":"org-1","userId":"u-1","status":"AUTHORIZED","correlationId":"wf-9","causationId":"c-2"}
{"type":"ChangePaymentStatus","commandId":"c-5","paymentId":"p-2","organizationId":"org-2","userId":"u-7","status":"FAILED","reason":"card declined","correlationId":"wf-10"}
{"type":"UpdatePayment","commandId":"c-6","paymentId":"p-3","organizationId":"org-1","userId":"u-1","description":"Egress","correlationId":"wf-11"}
{"type":"DeletePayment","commandId":"c-7","paymentId":"p-2","organizationId":"org-2","userId":"u-7","reason":"cleanup","correlationId":"wf-10"}
{"type":"CreatePayment","commandId":"c-8","paymentId":"p-4","organizationId":"org-3","userId":"u-9","amount":"2.125","currency":"KWD","correlationId":"wf-12"}
`

// prodInvalidLines are appended to a valid file: line number → what stderr must say.
var prodInvalidLines = []struct{ line, says string }{
	{`{"type":"CreatePayment","commandId":"x-1","paymentId":"p-9","organizationId":"o","userId":"u","amount":"1.001","currency":"EUR","correlationId":"w"}`, "field amount: "},
	{`{"type":"CreatePayment","commandId":"x-2","paymentId":"p-9","organizationId":"o","userId":"u","amount":"1.00","currency":"XXX","correlationId":"w"}`, "field currency: "},
	{`{"type":"RefundPayment","commandId":"x-3","paymentId":"p-9","organizationId":"o","userId":"u"}`, "field type: "},
	{`{"type":"DeletePayment","commandId":"x-4","organizationId":"o","userId":"u"}`, "field paymentId: required"},
	{`{"type":"DeletePayment", oops`, "invalid JSON"},
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProduceFileThroughBinary(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	run := e.prism(t, ctx, nil, "--file", writeFile(t, "ok.jsonl", prodValidFile))
	if run.code != 0 {
		t.Fatalf("exit %d\n%s", run.code, run.stderr)
	}
	if !strings.Contains(run.stderr, "summary: produced=8 skipped=0 failed=0") {
		t.Errorf("summary missing or wrong:\n%s", run.stderr)
	}
	e.checkProduced(t, ctx, readLines(t, []byte(prodValidFile)))
}

func TestProduceFromStdinThroughBinary(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	run := e.prism(t, ctx, strings.NewReader(prodValidFile), "--file", "-")
	if run.code != 0 {
		t.Fatalf("exit %d\n%s", run.code, run.stderr)
	}
	e.checkProduced(t, ctx, readLines(t, []byte(prodValidFile)))
}

func invalidFile() (string, []int) {
	var b strings.Builder
	b.WriteString(prodValidFile) // 9 lines, one blank
	var bad []int
	for i, l := range prodInvalidLines {
		b.WriteString(l.line + "\n")
		bad = append(bad, 10+i)
	}
	return b.String(), bad
}

func TestProduceInvalidFileProducesNothing(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	content, bad := invalidFile()
	run := e.prism(t, ctx, nil, "--file", writeFile(t, "bad.jsonl", content))
	if run.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", run.code, run.stderr)
	}
	for i, n := range bad {
		want := fmt.Sprintf("line %d: ", n)
		idx := strings.Index(run.stderr, want)
		if idx < 0 || !strings.Contains(run.stderr[idx:], prodInvalidLines[i].says) {
			t.Errorf("stderr does not report %q ... %q:\n%s", want, prodInvalidLines[i].says, run.stderr)
		}
	}
	// Like every failing command, it ends with one "error: ..." line.
	wantErr := fmt.Sprintf("error: produce: %d invalid lines, nothing produced (fix them, or use --skip-invalid to produce the valid lines)", len(bad))
	if last := lastLines(run.stderr, 1); last != wantErr {
		t.Errorf("last stderr line %q, want %q", last, wantErr)
	}
	// Under --log-format json every line is a JSON object, the error one
	// at level ERROR.
	run = e.prism(t, ctx, nil, "--file", writeFile(t, "bad.jsonl", content), "--log-format", "json")
	if run.code != 3 {
		t.Fatalf("--log-format json: exit %d, want 3\n%s", run.code, run.stderr)
	}
	recs := jsonLinesOf(t, "produce stderr", run.stderr)
	if len(recs) == 0 || recs[len(recs)-1]["level"] != "ERROR" || recs[len(recs)-1]["msg"] != strings.TrimPrefix(wantErr, "error: ") {
		t.Errorf("--log-format json: last stderr record is not the error at level ERROR:\n%s", run.stderr)
	}
	// The command is flushed before it exits: nothing may be on the topic.
	if n := e.recordCount(t, ctx, e.names.CommandsTopic()); n != 0 {
		t.Fatalf("%d records produced from an invalid file, want 0", n)
	}
}

func TestProduceSkipInvalidProducesOnlyValid(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	content, bad := invalidFile()
	run := e.prism(t, ctx, nil, "--file", writeFile(t, "bad.jsonl", content), "--skip-invalid")
	if run.code != 0 {
		t.Fatalf("exit %d, want 0\n%s", run.code, run.stderr)
	}
	for _, n := range bad {
		if !strings.Contains(run.stderr, fmt.Sprintf("skipped line %d: ", n)) {
			t.Errorf("stderr does not list skipped line %d:\n%s", n, run.stderr)
		}
	}
	if !strings.Contains(run.stderr, fmt.Sprintf("summary: produced=8 skipped=%d", len(bad))) {
		t.Errorf("summary wrong:\n%s", run.stderr)
	}
	e.checkProduced(t, ctx, readLines(t, []byte(prodValidFile)))
}

func TestProduceGenerateFileAndProduce(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	gen := []string{"--generate", "3000", "--organizations", "5", "--seed", "11", "--invalid-ratio", "0.15", "--start", "2026-04-01T00:00:00Z"}
	// --out alone writes and produces nothing.
	if run := e.prism(t, ctx, nil, append(gen, "--out", a)...); run.code != 0 {
		t.Fatalf("exit %d\n%s", run.code, run.stderr)
	}
	if n := e.recordCount(t, ctx, e.names.CommandsTopic()); n != 0 {
		t.Fatalf("--out without --produce produced %d records", n)
	}
	// --out with --produce writes the same bytes and produces them.
	if run := e.prism(t, ctx, nil, append(gen, "--out", b, "--produce")...); run.code != 0 || !strings.Contains(run.stderr, "summary: produced=3000 ") {
		t.Fatalf("exit %d\n%s", run.code, run.stderr)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) || len(da) == 0 {
		t.Fatalf("same seed wrote different files (%d and %d bytes)", len(da), len(db))
	}
	e.checkProduced(t, ctx, readLines(t, da))
}

// fakeResults answers every command of the namespace with a result written
// in a Kafka transaction: rejected NOT_FOUND when the payment id contains
// "ghost", accepted otherwise.
func (e *prodEnv) fakeResults(t *testing.T, ctx context.Context) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.names.CommandsTopic()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(e.names.Namespace+"-fake-processor"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(func() { wg.Wait(); cl.Close() })
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			var out []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) {
				c, err := e.codec.DecodeCommand(r.Value)
				if err != nil {
					t.Errorf("fake processor: %v", err)
					return
				}
				res := &schemas.CommandResult{CommandID: c.CommandID, PaymentID: c.PaymentID, Accepted: true, EventVersion: 1, CorrelationID: c.CorrelationID}
				if strings.Contains(c.PaymentID, "ghost") {
					res.Accepted, res.Reason, res.Message, res.EventVersion = false, schemas.ReasonNotFound, "no such payment", 0
				}
				v, err := e.codec.EncodeResult(res)
				if err != nil {
					t.Errorf("fake processor: %v", err)
					return
				}
				out = append(out, &kgo.Record{Topic: e.names.ResultsTopic(), Key: []byte(c.CommandID), Value: v})
			})
			if len(out) == 0 {
				continue
			}
			if err := cl.BeginTransaction(); err != nil {
				t.Errorf("fake processor: %v", err)
				return
			}
			perr := cl.ProduceSync(ctx, out...).FirstErr()
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(perr == nil)); (err != nil || perr != nil) && ctx.Err() == nil {
				t.Errorf("fake processor: produce %v, end transaction %v", perr, err)
			}
		}
	}()
}

func TestSendAndWaitRealBroker(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	p, err := producers.NewCommandProducer(producers.Config{
		Kafka:      kafkaconn.Config{Brokers: e.brokers},
		Aggregates: []producers.Aggregate{paymentAggregate(e.names, e.codec)}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	e.fakeResults(t, pctx)

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, pay := fmt.Sprintf("c-%d", i), fmt.Sprintf("p-%d", i)
			if i%5 == 0 {
				pay = fmt.Sprintf("ghost-%d", i)
			}
			cmd := &schemas.CommandEnvelope{CommandID: id, Type: schemas.TypeDeletePayment, PaymentID: pay, OrganizationID: "o", UserID: "u",
				Payload: schemas.CommandPayload{Delete: &schemas.DeletePayment{}}}
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			res, err := p.SendAndWait(wctx, cmd)
			if err != nil {
				t.Error(err)
				return
			}
			if res.CommandID != id || res.AggregateID != pay || res.Accepted != (i%5 != 0) {
				t.Errorf("command %s on %s: result %+v", id, pay, res)
			}
		}()
	}
	wg.Wait()
}

func TestProduceWaitPrintsResults(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	e.fakeResults(t, pctx)
	file := prodValidFile + `{"type":"DeletePayment","commandId":"c-9","paymentId":"ghost-1","organizationId":"o","userId":"u"}` + "\n"
	run := e.prism(t, ctx, nil, "--file", writeFile(t, "w.jsonl", file), "--wait", "--wait-timeout", "90s")
	if run.code != 0 {
		t.Fatalf("exit %d\n%s", run.code, run.stderr)
	}
	if !strings.Contains(run.stderr, "summary: produced=9 skipped=0 failed=0 accepted=8 rejected=1 unanswered=0") {
		t.Errorf("summary wrong:\n%s", run.stderr)
	}
	got := map[string]schemas.CommandResult{}
	sc := bufio.NewScanner(strings.NewReader(run.stdout))
	for sc.Scan() {
		var r schemas.CommandResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		got[r.CommandID] = r
	}
	if len(got) != 9 {
		t.Fatalf("%d results printed, want 9:\n%s", len(got), run.stdout)
	}
	if r := got["c-9"]; r.Accepted || r.Reason != schemas.ReasonNotFound {
		t.Errorf("c-9 result %+v, want rejected NOT_FOUND", r)
	}
	if r := got["c-1"]; !r.Accepted || r.PaymentID != "p-1" {
		t.Errorf("c-1 result %+v, want accepted", r)
	}
}

func TestProduceWaitWithoutProcessorExits4(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 3*time.Minute)
	run := e.prism(t, ctx, nil, "--file", writeFile(t, "w.jsonl", prodValidFile), "--wait", "--wait-timeout", "2s")
	if run.code != 4 {
		t.Fatalf("exit %d, want 4\n%s", run.code, run.stderr)
	}
	if !strings.Contains(run.stderr, "accepted=0 rejected=0 unanswered=8") {
		t.Errorf("summary wrong:\n%s", run.stderr)
	}
}

// BenchmarkProduceGenerate measures records/s of the generate+produce path
// of `prism produce --generate` (generator, JSON line → envelope, Avro
// encoding, headers, idempotent batched produce, flush) against the real
// broker, beside a bare franz-go loop producing the same bytes (key, value,
// headers) with the same client settings, in the same run.
func BenchmarkProduceGenerate(b *testing.B) {
	e := newProdEnv(b)
	ctx := testkit.Context(b, 30*time.Minute)
	gcfg := payment.GeneratorConfig{Organizations: 20, Seed: 1, InvalidRatio: 0.1}
	pcfg := producers.Config{
		Kafka:      kafkaconn.Config{Brokers: e.brokers},
		Aggregates: []producers.Aggregate{paymentAggregate(e.names, e.codec)}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	run := 0
	nextPrefix := func() string { run++; return fmt.Sprintf("bench%d", run) }

	b.Run("prism-generate-produce", func(b *testing.B) {
		p, err := producers.NewCommandProducer(pcfg)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		cfg := gcfg
		cfg.Count, cfg.IDPrefix = b.N, nextPrefix()
		gen, err := payment.NewGenerator(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		stats, err := p.Run(ctx, payment.GeneratorSource(gen, nil, true), producers.RunConfig{})
		b.StopTimer()
		if err != nil || stats.Produced != b.N {
			b.Fatalf("produced %d of %d: %v", stats.Produced, b.N, err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})

	// envelopes returns b.N generated commands, made before the timer starts.
	envelopes := func(b *testing.B) []*schemas.CommandEnvelope {
		cfg := gcfg
		cfg.Count, cfg.IDPrefix = b.N, nextPrefix()
		gen, err := payment.NewGenerator(cfg)
		if err != nil {
			b.Fatal(err)
		}
		src := payment.GeneratorSource(gen, nil, true)
		out := make([]*schemas.CommandEnvelope, 0, b.N)
		for {
			c, ok, err := src()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				return out
			}
			env := c.(*schemas.CommandEnvelope)
			env.IssuedAt = time.Now().UTC()
			out = append(out, env)
		}
	}
	record := func(b *testing.B, c *schemas.CommandEnvelope) *kgo.Record {
		v, err := e.codec.EncodeCommand(c)
		if err != nil {
			b.Fatal(err)
		}
		return &kgo.Record{
			Key: []byte(c.PaymentID), Value: v,
			Headers: []kgo.RecordHeader{
				{Key: records.HeaderType, Value: []byte(c.Type)},
				{Key: records.HeaderCommandID, Value: []byte(c.CommandID)},
				{Key: records.HeaderCorrelationID, Value: []byte(c.CorrelationID)},
				{Key: records.HeaderCausationID, Value: []byte(c.CausationID)},
				{Key: records.HeaderSchema, Value: []byte(schemas.FingerprintHex(e.codec.CommandFingerprint()))},
			},
		}
	}
	// bare produces with a plain franz-go client (same settings as the
	// command producer) and reports records/s.
	bare := func(b *testing.B, next func(i int) *kgo.Record) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.DefaultProduceTopic(e.names.CommandsTopic()),
			kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		var failed atomic.Int64
		b.ResetTimer()
		for i := range b.N {
			cl.Produce(ctx, next(i), func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d records failed", n)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	}

	// The baseline: the same bytes (key, Avro value, headers), encoded
	// before the timer starts, through a bare franz-go loop.
	b.Run("bare-franz-go", func(b *testing.B) {
		cmds := envelopes(b)
		recs := make([]*kgo.Record, len(cmds))
		for i, c := range cmds {
			recs[i] = record(b, c)
		}
		bare(b, func(i int) *kgo.Record { return recs[i] })
	})
	// Where the gap goes: the bare loop again, Avro-encoding each record
	// inside the timed loop (generation still outside).
	b.Run("bare-franz-go-encode-inline", func(b *testing.B) {
		cmds := envelopes(b)
		bare(b, func(i int) *kgo.Record { return record(b, cmds[i]) })
	})
}

// startProcessor runs the real `prism process` on e's namespace until the
// test ends (SIGINT, then its exit awaited); its log is printed when the test
// failed.
func (e *prodEnv) startProcessor(t *testing.T, ctx context.Context, instanceID string) {
	t.Helper()
	pctx, stop := context.WithCancel(ctx)
	proc := exec.CommandContext(pctx, testkit.PrismBinary(t), "process", "--namespace", e.names.Namespace,
		"--brokers", strings.Join(e.brokers, ","), "--http", "", "--instance-id", instanceID)
	var procLog bytes.Buffer
	proc.Stdout, proc.Stderr = &procLog, &procLog
	proc.Cancel = func() error { return proc.Process.Signal(os.Interrupt) }
	proc.WaitDelay = 30 * time.Second
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		_ = proc.Wait()
		if t.Failed() {
			t.Logf("prism process log:\n%s", procLog.String())
		}
	})
}

// TestProduceGenerateWaitWithRealProcessor runs the real `prism process`
// and `prism produce --generate --wait`: every generated command gets a
// result, exactly round(N×R) are rejected, and each outcome (accepted, or
// the reason) is the one the generator built the command for.
func TestProduceGenerateWaitWithRealProcessor(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t)
	ctx := testkit.Context(t, 5*time.Minute)
	e.startProcessor(t, ctx, "producers-test")

	const n, ratio = 2000, 0.2
	args := []string{"--generate", strconv.Itoa(n), "--organizations", "4", "--seed", "31", "--invalid-ratio", "0.2", "--id-prefix", e.names.Namespace}
	run := e.prism(t, ctx, nil, append(args, "--wait", "--wait-timeout", "150s")...)
	rejected := int(math.Round(n * ratio))
	want := fmt.Sprintf("summary: produced=%d skipped=0 failed=0 accepted=%d rejected=%d unanswered=0", n, n-rejected, rejected)
	if run.code != 0 || !strings.Contains(run.stderr, want) {
		t.Fatalf("exit %d, want 0 and %q:\n%s", run.code, want, run.stderr)
	}
	results := map[string]schemas.CommandResult{}
	sc := bufio.NewScanner(strings.NewReader(run.stdout))
	for sc.Scan() {
		var r schemas.CommandResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		results[r.CommandID] = r
	}
	gen, err := payment.NewGenerator(payment.GeneratorConfig{Count: n, Organizations: 4, Seed: 31, InvalidRatio: ratio, IDPrefix: e.names.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	for {
		c, ok := gen.Next()
		if !ok {
			break
		}
		r, found := results[c.Line.CommandID]
		switch {
		case !found:
			t.Errorf("no result printed for %s", c.Line.CommandID)
		case r.Accepted != c.Expect.Accepted || r.Reason != c.Expect.Reason:
			t.Errorf("%s (%s): result accepted=%v reason=%q %s, want accepted=%v reason=%q",
				c.Line.CommandID, c.Expect.Kind, r.Accepted, r.Reason, r.Message, c.Expect.Accepted, c.Expect.Reason)
		}
	}
}

func TestProduceWithoutTopicsFailsFast(t *testing.T) {
	t.Parallel()
	brokers := testkit.KafkaBrokers(t)
	ctx := testkit.Context(t, 2*time.Minute)
	e := &prodEnv{brokers: brokers, names: topology.NewNames(testkit.Namespace(t)).Aggregate("payments")} // no topics created
	run := e.prism(t, ctx, nil, "--file", writeFile(t, "ok.jsonl", prodValidFile))
	if run.code != 1 || !strings.Contains(run.stderr, e.names.CommandsTopic()+": topic does not exist") {
		t.Fatalf("exit %d, want 1 naming the missing topic:\n%s", run.code, run.stderr)
	}
}

func TestProduceBadFlagsExit2(t *testing.T) {
	t.Parallel()
	e := &prodEnv{brokers: []string{"127.0.0.1:1"}, names: topology.NewNames("unused").Aggregate("payments")} // never contacted
	ctx := testkit.Context(t, time.Minute)
	file := writeFile(t, "ok.jsonl", prodValidFile)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{nil, "exactly one of --file and --generate"},
		{[]string{"--file", file, "--generate", "5"}, "exactly one of --file and --generate"},
		{[]string{"--file", file, "--seed", "3"}, "--seed only applies to --generate"},
		{[]string{"--generate", "5", "--skip-invalid"}, "--skip-invalid only applies to --file"},
		{[]string{"--generate", "5", "--produce"}, "--produce only applies with --out"},
		{[]string{"--generate", "5", "--out", "-", "--produce", "--wait"}, "--out cannot be - too"},
		{[]string{"--generate", "5", "--invalid-ratio", "1.5"}, "invalid ratio 1.5"},
		{[]string{"--generate", "5", "--start", "yesterday"}, `--start "yesterday"`},
		{[]string{"--file", file, "--rate", "-1"}, "--rate -1 is negative"},
	} {
		run := e.prism(t, ctx, nil, tc.args...)
		if run.code != 2 || !strings.Contains(run.stderr, tc.says) {
			t.Errorf("prism produce %v: exit %d, want 2 saying %q:\n%s", tc.args, run.code, tc.says, run.stderr)
		}
	}
}
