package integration

// End-to-end environment of the postgres and readmodels sink tests:
// topics of a fresh namespace on the real broker, a deterministic
// generator of VALID command streams (plus re-sent command ids and a few
// commands the rules reject) whose outcome is computed here from the
// commands alone, and helpers to run `prism process` / `prism sink` as
// separate processes.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// sinkE2ECommands is PRISM_E2E_COMMANDS, else 100,000 under CI and 20,000
// otherwise.
func sinkE2ECommands(t *testing.T) int {
	if v := os.Getenv("PRISM_E2E_COMMANDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("PRISM_E2E_COMMANDS=%q: want a positive integer", v)
		}
		return n
	}
	if os.Getenv("CI") != "" {
		return 100_000
	}
	return 20_000
}

// ---------------------------------------------------------------- generator

// sinkPay is the generator's (and expectation's) view of one payment.
type sinkPay struct {
	id, org, user, currency, descr string
	amount                         int64
	status                         schemas.PaymentStatus
	version                        int64
	deleted                        bool
	updates                        int
	accepted                       []*schemas.CommandEnvelope
}

// sinkEvent is an event the processor must emit for an accepted command.
type sinkEvent struct {
	aggregate string
	version   int64
	typ       string
	org       string
	currency  string
	amount    int64 // amount of the payment after the event
	to        schemas.PaymentStatus
	corr      string // the command's correlation id
}

// sinkExpect is the outcome computed from the commands alone.
type sinkExpect struct {
	payments map[string]*sinkPay // every payment ever created (deleted flagged)
	events   []sinkEvent         // accepted events in order
}

var sinkNext = map[schemas.PaymentStatus][]schemas.PaymentStatus{
	schemas.StatusPending:    {schemas.StatusAuthorized, schemas.StatusAuthorized, schemas.StatusFailed, schemas.StatusCancelled},
	schemas.StatusAuthorized: {schemas.StatusCaptured, schemas.StatusCaptured, schemas.StatusFailed, schemas.StatusCancelled},
	schemas.StatusCaptured:   {schemas.StatusRefunded},
}

// generateSinkCommands makes n commands: payments created, updated while
// PENDING, moved along the status machine, some deleted; about 3% exact
// re-sends of an accepted command of a live payment (answered as duplicates,
// no event) and 2% updates of a payment no longer PENDING (rejected, no
// event). Every payment takes at most 8 accepted commands, well inside
// the processor's dedup memory.
func generateSinkCommands(n int, seed uint64, prefix string) ([]*schemas.CommandEnvelope, sinkExpect) {
	rng := rand.New(rand.NewPCG(seed, seed^0x51ed270b27f3ad1d))
	orgs := []string{"org-a", "org-b", "org-c", "org-d"}
	curs := []string{"EUR", "USD", "JPY", "GBP"}
	x := sinkExpect{payments: map[string]*sinkPay{}}
	var live []*sinkPay
	var cmds []*schemas.CommandEnvelope
	nPay, nCmd := 0, 0
	issued := time.Now().UTC()
	env := func(typ string, p *sinkPay) *schemas.CommandEnvelope {
		nCmd++
		return &schemas.CommandEnvelope{
			CommandID: fmt.Sprintf("%s-c%07d", prefix, nCmd), Type: typ, PaymentID: p.id,
			OrganizationID: p.org, UserID: p.user, CorrelationID: fmt.Sprintf("%s-k%06d", prefix, nCmd/4),
			IssuedAt: issued.Add(time.Duration(nCmd) * time.Millisecond),
		}
	}
	accept := func(p *sinkPay, c *schemas.CommandEnvelope, ev sinkEvent) {
		p.accepted = append(p.accepted, c)
		p.version++
		ev.aggregate, ev.version, ev.org, ev.currency, ev.amount = p.id, p.version, p.org, p.currency, p.amount
		ev.corr = c.CorrelationID
		x.events = append(x.events, ev)
	}
	for len(cmds) < n {
		r := rng.IntN(100)
		switch {
		case len(live) < 30 || r < 25: // create
			nPay++
			p := &sinkPay{id: fmt.Sprintf("%s-p%06d", prefix, nPay), org: orgs[rng.IntN(len(orgs))],
				user: fmt.Sprintf("user-%d", rng.IntN(40)), currency: curs[rng.IntN(len(curs))],
				amount: int64(100 + rng.IntN(500_000)), descr: fmt.Sprintf("invoice %d", nPay), status: schemas.StatusPending}
			c := env(schemas.TypeCreatePayment, p)
			c.Payload.Create = &schemas.CreatePayment{AmountMinor: p.amount, Currency: p.currency, Description: p.descr}
			x.payments[p.id] = p
			live = append(live, p)
			cmds = append(cmds, c)
			accept(p, c, sinkEvent{typ: schemas.TypePaymentCreated})
			continue
		}
		i := rng.IntN(len(live))
		p := live[i]
		retire := func() { live[i] = live[len(live)-1]; live = live[:len(live)-1] }
		switch {
		case r < 28: // exact re-send of an accepted command: duplicate
			old := p.accepted[rng.IntN(len(p.accepted))]
			c := *old
			cmds = append(cmds, &c)
		case r < 30 && p.status != schemas.StatusPending: // update when not PENDING: rejected
			c := env(schemas.TypeUpdatePayment, p)
			a := p.amount + 1
			c.Payload.Update = &schemas.UpdatePayment{AmountMinor: &a, Currency: &p.currency}
			cmds = append(cmds, c)
		case len(p.accepted) >= 7 || r < 36: // delete
			c := env(schemas.TypeDeletePayment, p)
			c.Payload.Delete = &schemas.DeletePayment{Reason: "test"}
			cmds = append(cmds, c)
			accept(p, c, sinkEvent{typ: schemas.TypePaymentDeleted})
			p.deleted = true
			retire()
		case p.status == schemas.StatusPending && p.updates < 2 && r < 55: // update
			c := env(schemas.TypeUpdatePayment, p)
			p.amount += int64(1 + rng.IntN(10_000))
			p.descr = fmt.Sprintf("%s (rev %d)", p.descr, p.updates+1)
			p.updates++
			a, cur, d := p.amount, p.currency, p.descr
			c.Payload.Update = &schemas.UpdatePayment{AmountMinor: &a, Currency: &cur, Description: &d}
			cmds = append(cmds, c)
			accept(p, c, sinkEvent{typ: schemas.TypePaymentUpdated})
		case len(sinkNext[p.status]) > 0:
			nexts := sinkNext[p.status]
			to := nexts[rng.IntN(len(nexts))]
			c := env(schemas.TypeChangePaymentStatus, p)
			c.Payload.ChangeStatus = &schemas.ChangePaymentStatus{Status: to, Reason: "test"}
			p.status = to
			cmds = append(cmds, c)
			accept(p, c, sinkEvent{typ: schemas.TypePaymentStatusChanged, to: to})
		default: // terminal and not deleted: stays as it is
			retire()
		}
	}
	return cmds, x
}

// live returns the payments that must be in the payments table.
func (x sinkExpect) live() map[string]schemas.Payment {
	out := map[string]schemas.Payment{}
	for id, p := range x.payments {
		if p.deleted {
			continue
		}
		out[id] = schemas.Payment{ID: id, OrganizationID: p.org, UserID: p.user, AmountMinor: p.amount,
			Currency: p.currency, Description: p.descr, Status: p.status, Version: p.version}
	}
	return out
}

// ---------------------------------------------------------------- environment

type sinkEnv struct {
	t       testing.TB
	ns      string
	names   topology.Names
	brokers []string
	pgURL   string
	schema  string
	bin     string
	cl      *kgo.Client
	codec   *schemas.Codec
	pool    *pgxpool.Pool
}

func newSinkEnv(t testing.TB, partitions int32) *sinkEnv {
	t.Helper()
	brokers := testkit.KafkaBrokers(t)
	pgURL := testkit.PostgresURL(t)
	bin := testkit.PrismBinary(t)
	ns := testkit.Namespace(t)
	spec, cl := testTopics(t, brokers, ns, partitions, 5*time.Millisecond)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	e := &sinkEnv{t: t, ns: ns, names: spec.Names("payments"), brokers: brokers, pgURL: pgURL, schema: spec.Names("payments").PostgresSchema(),
		bin: bin, cl: cl, codec: codec, pool: pool}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{e.schema}.Sanitize()+` CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", e.schema, err)
		}
		pool.Close()
	})
	return e
}

// produceCommands sends cmds in order (idempotent producer: order kept per
// partition, no duplicates).
func (e *sinkEnv) produceCommands(ctx context.Context, cmds []*schemas.CommandEnvelope) {
	e.t.Helper()
	const chunk = 5000
	for i := 0; i < len(cmds); i += chunk {
		recs, err := e.commandRecords(cmds[i:min(i+chunk, len(cmds))])
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			e.t.Fatalf("produce commands: %v", err)
		}
	}
}

// commandRecords encodes cmds as records of the commands topic (for a
// goroutine other than the test's, which cannot fail the test itself).
func (e *sinkEnv) commandRecords(cmds []*schemas.CommandEnvelope) ([]*kgo.Record, error) {
	recs := make([]*kgo.Record, 0, len(cmds))
	for _, c := range cmds {
		v, err := e.codec.EncodeCommand(c)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", c.CommandID, err)
		}
		recs = append(recs, &kgo.Record{Topic: e.names.CommandsTopic(), Key: []byte(c.PaymentID), Value: v,
			Headers: []kgo.RecordHeader{{Key: records.HeaderType, Value: []byte(c.Type)}, {Key: records.HeaderCommandID, Value: []byte(c.CommandID)}}})
	}
	return recs, nil
}

// sinkProc is one `prism` process started by a test.
type sinkProc struct {
	*prismProc
	http string // host:port of /healthz, "" when none
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs `prism --namespace ... <args>`; its output goes to a log file
// shown when the test fails. The process is killed at cleanup if still up.
func (e *sinkEnv) start(name string, withHTTP bool, args ...string) *sinkProc {
	e.t.Helper()
	p := &sinkProc{}
	if withHTTP {
		p.http = freeAddr(e.t)
		args = append(args, "--http", p.http)
	}
	full := append([]string{"--namespace", e.ns, "--brokers", strings.Join(e.brokers, ","), "--postgres-url", e.pgURL, "--log-level", "info"}, args...)
	p.prismProc = startPrismProc(e.t, e.bin, name, full...)
	return p
}

func (e *sinkEnv) startSink(name, sink string, extra ...string) *sinkProc {
	args := append([]string{"sink", sink, "--session-timeout", "6s", "--batch-max-wait", "100ms", "--backoff-max", "2s"}, extra...)
	return e.start(name, true, args...)
}

func (e *sinkEnv) startProcessor(name string) *sinkProc {
	return e.start(name, false, "process", "--http", "", "--instance-id", name, "--session-timeout", "6s")
}

// health returns the /healthz status code (0 when it does not answer).
func (p *sinkProc) health() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.http + "/healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// services runs scripts/services.sh with args (for example down postgres).
func sinkServices(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(sinkRepoRoot(), "scripts", "services.sh")}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("services.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sinkServicesQuiet is sinkServices for cleanups: errors are ignored.
func sinkServicesQuiet(args ...string) {
	cmd := exec.Command("bash", append([]string{filepath.Join(sinkRepoRoot(), "scripts", "services.sh")}, args...)...)
	_ = cmd.Run()
}

// table is the quoted name of a table of the test's schema.
func (e *sinkEnv) table(name string) string { return pgx.Identifier{e.schema, name}.Sanitize() }

func sinkRepoRoot() string {
	wd, _ := os.Getwd() // the integration folder when run by go test
	return filepath.Dir(wd)
}
