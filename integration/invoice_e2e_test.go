package integration

import (
	"strconv"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestInvoiceEndToEnd runs a generated invoice workload (5% of it built to
// be rejected) through `prism produce --file`, one processor and the four
// sinks, and checks every command's result, the invoices table, the open
// receivables read model, Redis and Elasticsearch against the generator's
// model.
func TestInvoiceEndToEnd(t *testing.T) {
	e := newInvEnv(t, 4)
	ctx := testkit.Context(t, 8*time.Minute)
	path, gen, results := e.generate(3000, 11, 0.05)
	e.startAll()
	e.produceFile(ctx, path)
	e.waitEverySource(ctx, gen, results, 4*time.Minute)

	// Producing the same file again: every command is a retry. Accepted
	// commands are duplicates (nothing emitted), so the sources do not move.
	e.produceFile(ctx, path)
	waitEqual(t, "results of the re-sent file", 3*time.Minute, func() ([]string, error) {
		recs, err := e.readTopic(ctx, e.names.ResultsTopic())
		if err != nil {
			return nil, err
		}
		if len(recs) < 2*len(results) {
			return []string{"results so far: " + strconv.Itoa(len(recs))}, nil
		}
		return nil, nil
	})
	events, err := e.readTopic(ctx, e.names.EventsTopic())
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for _, w := range results {
		if w.Accepted {
			accepted++
		}
	}
	if len(events) != accepted {
		t.Errorf("%d events after the file was sent twice, want %d (one per accepted command)", len(events), accepted)
	}
	e.waitEverySource(ctx, gen, nil, time.Minute)
}
