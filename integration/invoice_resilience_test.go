package integration

import (
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestInvoiceProcessorAndSinkKilledAndRestarted kills (SIGKILL) the
// processor and the postgres sink while invoices flow, produces more while
// they are down, restarts them with the same instance names and checks
// that every command was answered exactly once and every read source ends
// exact: no loss, no duplicate, no event applied twice.
func TestInvoiceProcessorAndSinkKilledAndRestarted(t *testing.T) {
	e := newInvEnv(t, 4)
	ctx := testkit.Context(t, 8*time.Minute)
	path, gen, results := e.generate(4000, 23, 0.03)
	first, second, third := splitFile(t, path, 0, 1500), splitFile(t, path, 1500, 2800), splitFile(t, path, 2800, 4000)
	e.startAll()
	// Kill both while the first part is being processed: as soon as the
	// first results are committed, the file still being produced (at 500
	// commands a second).
	produced := make(chan error, 1)
	go func() { produced <- e.runProduce(ctx, first, "--rate", "500") }()
	var answered int
	waitEqual(t, "first results", time.Minute, func() ([]string, error) {
		recs, err := e.readTopic(ctx, e.names.ResultsTopic())
		if err != nil {
			return nil, err
		}
		if answered = len(recs); answered == 0 {
			return []string{"not yet"}, nil
		}
		return nil, nil
	})
	e.procs["proc-1"].kill(t)
	e.procs["sink-postgres"].kill(t)
	t.Logf("killed the processor and the postgres sink with %d of %d commands answered", answered, 1500)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	e.produceFile(ctx, second)
	time.Sleep(2 * time.Second)
	e.startProcessor("proc-1")
	e.startSink("sink-postgres", "postgres")
	e.produceFile(ctx, third)

	e.waitEverySource(ctx, gen, results, 5*time.Minute)
	for _, p := range e.procs {
		p.running(t)
	}
}
