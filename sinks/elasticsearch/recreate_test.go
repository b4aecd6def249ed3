package elasticsearch_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// storedDoc is the document as the test reads it (its own type).
type storedDoc struct {
	Found   bool  `json:"found"`
	Version int64 `json:"_version"`
	Source  struct {
		AmountMinor int64  `json:"amount_minor"`
		Status      string `json:"status"`
		Version     int64  `json:"version"`
	} `json:"_source"`
}

func getDoc(t *testing.T, ctx context.Context, url, index, id string) storedDoc {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/"+index+"/_doc/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var d storedDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("GET %s/%s: %v (%s)", index, id, err, raw)
	}
	return d
}

// TestRecreateAfterDelete: a payment id deleted and created again (the
// processor numbers the new life from version 1, at higher offsets) ends
// as the new life in the index, whether the delete and the new
// PaymentCreated come in one batch or in separate batches (the case that
// got a 409 while the delete's version was remembered); replays of both
// lives change nothing afterwards, and an older version of the new life
// re-sent at a new offset is still ignored.
func TestRecreateAfterDelete(t *testing.T) {
	url := strings.TrimRight(testkit.ElasticsearchURL(t), "/")
	ctx := testkit.Context(t, 2*time.Minute)
	t0 := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	first := sinktest.Life("p", 0, 100, t0, true)                  // offsets 0..3: v1, v2, delete v3, tombstone
	second := sinktest.Life("p", 4, 700, t0.Add(time.Hour), false) // offsets 4..5: v1, v2 of the new life
	// The same created_at for both lives: only the delete tells them apart.
	sameInstant := sinktest.Life("p", 4, 700, t0, false)
	cases := []struct {
		name    string
		batches [][]sinks.Event
	}{
		{"two batches", [][]sinks.Event{first, second}},
		{"one batch", [][]sinks.Event{append(append([]sinks.Event{}, first...), second...)}},
		{"delete alone, then the new life", [][]sinks.Event{first[:2], first[2:], second[:1], second[1:]}},
		{"only up to the new PaymentCreated", [][]sinks.Event{first, second[:1]}},
		{"new life with the same created_at", [][]sinks.Event{first, sameInstant}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			names := topology.NewNames(testkit.Namespace(t)).Aggregate("payments")
			tg, err := essink.NewTarget(essink.DefaultConfig(url, names), payment.ElasticsearchProjection{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			t.Cleanup(func() {
				req, _ := http.NewRequest(http.MethodDelete, url+"/"+tg.Index(), nil)
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
				}
			})
			if err := tg.Setup(ctx); err != nil {
				t.Fatal(err)
			}
			write := func(batch []sinks.Event) {
				t.Helper()
				if rej, err := tg.Write(ctx, "t", batch); err != nil || len(rej) > 0 {
					t.Fatalf("Write: rejected %v, err %v", rej, err)
				}
			}
			for _, b := range c.batches {
				write(b)
			}
			last := c.batches[len(c.batches)-1]
			lastEv := last[len(last)-1]
			want := lastEv.Envelope.State.(*schemas.Payment)
			check := func(step string) {
				t.Helper()
				d := getDoc(t, ctx, url, tg.Index(), "p")
				if !d.Found || d.Source.Version != want.Version || d.Source.AmountMinor != 700 || d.Source.Status != string(want.Status) || d.Version != lastEv.Offset+1 {
					t.Fatalf("%s: stored %+v, want the new life: version %d, amount 700, %s, _version %d (offset + 1)",
						step, d, want.Version, want.Status, lastEv.Offset+1)
				}
			}
			check("after the writes")
			// Replays (offsets already applied) of both lives change nothing.
			write(first)
			write(last)
			check("after replays")
			// An older version of the live life re-sent at a new offset is
			// ignored.
			var stale sinks.Event // the new life's PaymentCreated
			for _, b := range c.batches {
				for _, e := range b {
					if e.Envelope != nil && e.Envelope.Type == schemas.TypePaymentCreated {
						stale = e
					}
				}
			}
			stale.Offset = 100
			write([]sinks.Event{stale})
			check("after a stale version at a new offset")
		})
	}
}
