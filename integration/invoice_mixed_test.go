package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	payschemas "github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// TestInvoiceAndPaymentShareOnePipeline runs payments and invoices at the
// same time through one namespace and one set of services: one `prism
// process` and one process per sink serve both aggregates. At the end both
// are exact in every read source (payments against the payment workload's
// own expectation, invoices against the invoice generator's model), and
// neither aggregate's records reached the other's topics.
func TestInvoiceAndPaymentShareOnePipeline(t *testing.T) {
	e := newInvEnv(t, 3)
	ctx := testkit.Context(t, 8*time.Minute)
	payNames := topology.NewNames(e.ns).Aggregate("payments")
	path, gen, results := e.generate(2500, 31, 0.04)
	payCmds, payX := generateSinkCommands(2500, 31, e.ns)
	e.startAll()

	// Both workloads at once: invoices from the JSON Lines file through the
	// CLI, payments from the test straight to their commands topic.
	done := make(chan error, 1)
	go func() { done <- producePayments(ctx, e, payNames.CommandsTopic(), payCmds) }()
	e.produceFile(ctx, path)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	e.waitEverySource(ctx, gen, results, 5*time.Minute)

	wantPay := payX.live()
	waitEqual(t, "postgres payments", 3*time.Minute, func() ([]string, error) {
		got, err := payment.ReadPayments(ctx, e.pool, e.schema)
		if err != nil {
			return nil, err
		}
		return comparePayments("postgres", wantPay, got), nil
	})
	waitEqual(t, "payment summary read model", 3*time.Minute, func() ([]string, error) {
		rows, err := payment.ReadSummary(ctx, e.pool, e.schema)
		if err != nil {
			return nil, err
		}
		want := map[string][2]int64{}
		for _, p := range wantPay {
			k := p.OrganizationID + "/" + string(p.Status) + "/" + p.Currency
			w := want[k]
			want[k] = [2]int64{w[0] + 1, w[1] + p.AmountMinor}
		}
		var d []string
		for _, r := range rows {
			k := r.OrganizationID + "/" + r.Status + "/" + r.Currency
			if r.Count == 0 && r.TotalAmountMinor == 0 {
				continue
			}
			if w := want[k]; w != [2]int64{r.Count, r.TotalAmountMinor} {
				d = append(d, fmt.Sprintf("%s: %d, %d; want %d, %d", k, r.Count, r.TotalAmountMinor, w[0], w[1]))
			}
			delete(want, k)
		}
		for k, w := range want {
			d = append(d, fmt.Sprintf("%s: missing, want %v", k, w))
		}
		return d, nil
	})
	waitEqual(t, "redis payments", 3*time.Minute, func() ([]string, error) {
		got := map[string]payschemas.Payment{}
		for id := range wantPay {
			s, err := e.rdb.Get(ctx, payNames.RedisPrefix()+"payment:"+id).Result()
			if err != nil {
				continue
			}
			var doc payment.RedisDocument
			if err := json.Unmarshal([]byte(s), &doc); err != nil {
				return nil, err
			}
			got[id] = payschemas.Payment{ID: doc.ID, OrganizationID: doc.OrganizationID, AmountMinor: doc.AmountMinor,
				Currency: doc.Currency, Status: payschemas.PaymentStatus(doc.Status), Version: doc.Version}
		}
		return comparePayments("redis", wantPay, got), nil
	})
	waitEqual(t, "elasticsearch payments", 3*time.Minute, func() ([]string, error) {
		alias := payNames.ElasticsearchAlias()
		if err := e.esCall(ctx, http.MethodPost, "/"+alias+"/_refresh", nil, nil); err != nil {
			return nil, err
		}
		var res struct {
			Hits struct {
				Hits []struct {
					Source payment.ElasticsearchDocument `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := e.esCall(ctx, http.MethodPost, "/"+alias+"/_search", map[string]any{"size": 10000}, &res); err != nil {
			return nil, err
		}
		got := map[string]payschemas.Payment{}
		for _, h := range res.Hits.Hits {
			d := h.Source
			got[d.ID] = payschemas.Payment{ID: d.ID, OrganizationID: d.OrganizationID, AmountMinor: d.AmountMinor,
				Currency: d.Currency, Status: payschemas.PaymentStatus(d.Status), Version: d.Version}
		}
		return comparePayments("elasticsearch", wantPay, got), nil
	})

	// Each aggregate's topics hold only its own records.
	for _, topic := range []string{e.names.EventsTopic(), e.names.ResultsTopic()} {
		recs, err := e.readTopic(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if fp := recordFingerprint(r); fp == "" || fp == payFingerprint(t, topic == e.names.EventsTopic()) {
				t.Fatalf("%s holds a record of prism-schema %q", topic, fp)
			}
		}
	}
	for _, topic := range []string{e.names.CommandsDLQTopic(), payNames.CommandsDLQTopic(), e.names.EventsDLQTopic(), payNames.EventsDLQTopic()} {
		if recs, err := e.readTopic(ctx, topic); err != nil || len(recs) != 0 {
			t.Errorf("%s holds %d records (%v), want none", topic, len(recs), err)
		}
	}
	for _, p := range e.procs {
		p.running(t)
	}
}

// producePayments sends cmds in order, keyed by payment id.
func producePayments(ctx context.Context, e *invEnv, topic string, cmds []*payschemas.CommandEnvelope) error {
	codec, err := payschemas.NewCodec()
	if err != nil {
		return err
	}
	var recs []*kgo.Record
	for _, c := range cmds {
		v, err := codec.EncodeCommand(c)
		if err != nil {
			return fmt.Errorf("encode %s: %w", c.CommandID, err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(c.PaymentID), Value: v,
			Headers: []kgo.RecordHeader{{Key: records.HeaderType, Value: []byte(c.Type)}, {Key: records.HeaderCommandID, Value: []byte(c.CommandID)}}})
	}
	return e.cl.ProduceSync(ctx, recs...).FirstErr()
}

func comparePayments(source string, want, got map[string]payschemas.Payment) []string {
	var d []string
	for id, w := range want {
		g, ok := got[id]
		if !ok || g.OrganizationID != w.OrganizationID || g.Status != w.Status || g.AmountMinor != w.AmountMinor ||
			g.Currency != w.Currency || g.Version != w.Version {
			d = append(d, fmt.Sprintf("%s: payment %s: %+v, want %+v", source, id, g, w))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			d = append(d, fmt.Sprintf("%s: unexpected payment %s", source, id))
		}
	}
	sort.Strings(d)
	return d
}

func recordFingerprint(r *kgo.Record) string { return invHeader(r, records.HeaderSchema) }

// payFingerprint is the prism-schema of Payment's events (or results).
func payFingerprint(t *testing.T, events bool) string {
	c, err := payschemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if events {
		return payschemas.FingerprintHex(c.EventFingerprint())
	}
	return payschemas.FingerprintHex(c.ResultFingerprint())
}
