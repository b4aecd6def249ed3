package integration

// Hostile text through the whole pipeline (issue 8): every text value is
// either rejected by the processor with INVALID_FIELD naming the field, or
// held unchanged by Postgres, Redis and Elasticsearch alike (and by the
// read models' state); no event goes to the events DLQ. The expectation comes from the test's own reference
// of the rule (validID, validText in refmodel_test.go).

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// hostileTexts are the values sent in every text field.
var hostileTexts = []struct{ name, v string }{
	{"NUL", "gpu\x00hours"},
	{"SOH", "\x01"},
	{"tab", "a\tb"},
	{"newline", "line 1\nline 2"},
	{"carriage return", "a\rb"},
	{"escape sequence", "\x1b[31mred"},
	{"DEL", "a\x7f"},
	{"NEL (C1)", "a\u0085b"},
	{"last C1", "\u009f"},
	{"invalid byte", "caf\xe9"},
	{"truncated sequence", "\xe2\x82"},
	{"encoded surrogate", "\xed\xa0\x80"},
	{"overlong encoding", "\xc0\xaf"},
	{"1001 two-byte characters", strings.Repeat("é", 1001)},
	{"1000 four-byte characters", strings.Repeat("😀", 1000)},
	{"128 bytes", strings.Repeat("ü", 64)},
	{"emoji and accents", "GPU 🚀 café"},
	{"no-break and line separators", "a\u00a0b\u2028c"},
	{"BOM and joiner", "\ufeff👩\u200d💻"},
	{"bidi override", "\u202egnp.exe"},
	{"replacement character", "\ufffd"},
	{"quotes, SQL, HTML, glob", `'"\<>&%_;--*?[]{}:`},
	{"empty", ""},
	{"blanks", "   "},
}

type hostileCase struct {
	cmd   *schemas.CommandEnvelope
	field string // the field the command must be rejected for; "" when it must be accepted
}

func TestHostileTextEveryReadSourceAgrees(t *testing.T) {
	e := newSinkEnv(t, 3)
	ctx := testkit.Context(t, 6*time.Minute)
	es, rs := esAndRedisStores(t, e)

	var cases []hostileCase
	want := map[string]schemas.Payment{}
	seq := 0
	cmd := func(typ, pay, org, user string) *schemas.CommandEnvelope {
		seq++
		return &schemas.CommandEnvelope{CommandID: fmt.Sprintf("%s-c%d", e.ns, seq), Type: typ, PaymentID: pay,
			OrganizationID: org, UserID: user, CorrelationID: fmt.Sprintf("%s-w%d", e.ns, seq)}
	}
	create := func(pay, org, user, descr string) *schemas.CommandEnvelope {
		c := cmd(schemas.TypeCreatePayment, pay, org, user)
		c.Payload.Create = &schemas.CreatePayment{AmountMinor: 1000, Currency: "EUR", Description: descr}
		return c
	}
	pending := func(id, org, user, descr string, v int64) schemas.Payment {
		return schemas.Payment{ID: id, OrganizationID: org, UserID: user, AmountMinor: 1000, Currency: "EUR",
			Description: descr, Status: schemas.StatusPending, Version: v}
	}
	rejectUnless := func(ok bool, field string) string {
		if ok {
			return ""
		}
		return field
	}
	for i, h := range hostileTexts {
		v := h.v
		// description of a CreatePayment
		pay := fmt.Sprintf("%s-d%02d", e.ns, i)
		cases = append(cases, hostileCase{create(pay, "org-1", "user-1", v), rejectUnless(validText(v), "description")})
		if validText(v) {
			want[pay] = pending(pay, "org-1", "user-1", v, 1)
		}
		// organizationId and userId of a CreatePayment
		pay = fmt.Sprintf("%s-o%02d", e.ns, i)
		cases = append(cases, hostileCase{create(pay, v, "user-1", "base"), rejectUnless(validID(v, true), "organizationId")})
		if validID(v, true) {
			want[pay] = pending(pay, v, "user-1", "base", 1)
		}
		pay = fmt.Sprintf("%s-u%02d", e.ns, i)
		cases = append(cases, hostileCase{create(pay, "org-1", v, "base"), rejectUnless(validID(v, true), "userId")})
		if validID(v, true) {
			want[pay] = pending(pay, "org-1", v, "base", 1)
		}
		// paymentId (the record key, Postgres key, Redis key, Elasticsearch _id)
		pay = fmt.Sprintf("%s-p%02d-", e.ns, i) + v
		cases = append(cases, hostileCase{create(pay, "org-1", "user-1", "base"), rejectUnless(validID(pay, true), "paymentId")})
		if validID(pay, true) {
			want[pay] = pending(pay, "org-1", "user-1", "base", 1)
		}
		// description of an UpdatePayment, then the reason of a status change
		pay = fmt.Sprintf("%s-x%02d", e.ns, i)
		cases = append(cases, hostileCase{create(pay, "org-1", "user-1", "base"), ""})
		p := pending(pay, "org-1", "user-1", "base", 1)
		up := cmd(schemas.TypeUpdatePayment, pay, "org-1", "user-1")
		d := v
		up.Payload.Update = &schemas.UpdatePayment{Description: &d}
		cases = append(cases, hostileCase{up, rejectUnless(validText(v), "description")})
		if validText(v) {
			p.Description, p.Version = v, p.Version+1
		}
		st := cmd(schemas.TypeChangePaymentStatus, pay, "org-1", "user-1")
		st.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: schemas.StatusAuthorized, Reason: v}
		cases = append(cases, hostileCase{st, rejectUnless(validText(v), "reason")})
		if validText(v) {
			p.Status, p.Version = schemas.StatusAuthorized, p.Version+1
		}
		want[pay] = p
	}

	proc := e.startProcessor("proc-1")
	pg := e.startSink("sink-postgres", "postgres")
	rm := e.startSink("sink-readmodels", "readmodels")
	red := e.startSink("sink-redis", "redis", "--redis-url", rs.url)
	ela := e.startSink("sink-elasticsearch", "elasticsearch", "--elasticsearch-url", es.url)

	prod, err := producers.NewCommandProducer(producers.Config{
		Kafka:      kafkaconn.Config{Brokers: e.brokers},
		Aggregates: []producers.Aggregate{paymentAggregate(e.names, e.codec)}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var (
		mu      sync.Mutex
		results = map[string]*records.Result{}
		all     sync.WaitGroup
	)
	cmds := make([]records.Command, len(cases))
	for i, c := range cases {
		cmds[i] = c.cmd
		all.Add(1)
		cancel, err := prod.Watch(ctx, c.cmd, func(r *records.Result, err error) {
			defer all.Done()
			if err != nil {
				t.Errorf("result of %s: %v", c.cmd.CommandID, err)
				return
			}
			mu.Lock()
			results[r.CommandID] = r
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
	}
	if _, err := prod.SendAll(ctx, cmds); err != nil {
		t.Fatalf("send %d commands: %v", len(cmds), err)
	}
	done := make(chan struct{})
	go func() { all.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("only %d of %d results arrived", len(results), len(cmds))
	}
	mu.Lock()
	for i, c := range cases {
		r := results[c.cmd.CommandID]
		what := fmt.Sprintf("%s (%s, %q)", c.cmd.Type, hostileTexts[i/7].name, c.field)
		switch {
		case c.field == "" && !r.Accepted:
			t.Errorf("%s: rejected %s field %q: %s; want accepted", what, r.Reason, r.Field, r.Message)
		case c.field != "" && (r.Accepted || r.Reason != schemas.ReasonInvalidField || r.Field != c.field):
			t.Errorf("%s: result accepted=%v %s field %q; want INVALID_FIELD naming %s", what, r.Accepted, r.Reason, r.Field, c.field)
		}
	}
	mu.Unlock()

	ignore := []sinktest.Field{sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt}
	waitPayments(t, "postgres", 3*time.Minute, want, func() (map[string]schemas.Payment, error) { return payment.ReadPayments(ctx, e.pool, e.schema) }, ignore...)
	kvWaitEqual(t, "readmodels state", 2*time.Minute, func() []string {
		got, err := payment.ReadStates(ctx, e.pool, e.schema)
		if err != nil {
			return []string{err.Error()}
		}
		// readmodel_state holds neither the user nor the description.
		return sinktest.DiffPayments(want, got, 10, append(ignore, sinktest.FieldUserID, sinktest.FieldDescription)...)
	})
	waitPayments(t, "redis", 2*time.Minute, want, func() (map[string]schemas.Payment, error) { return rs.Payments(ctx) }, ignore...)
	waitPayments(t, "elasticsearch", 2*time.Minute, want, func() (map[string]schemas.Payment, error) { return es.Payments(ctx) }, ignore...)
	ends, err := kadm.NewClient(e.cl).ListEndOffsets(ctx, e.names.EventsDLQTopic())
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset != 0 {
			t.Errorf("events DLQ partition %d holds %d records, want none", o.Partition, o.Offset)
		}
	})
	pg.stop(t)
	rm.stop(t)
	red.stop(t)
	ela.stop(t)
	proc.stop(t)
}
