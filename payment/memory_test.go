//go:build !race

// The race detector changes allocation sizes and slows this down tenfold,
// so these measurements are built without it; `make test` runs them in a
// plain (non -race) pass.

package payment

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/google/uuid"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
)

// liveAggregates is how many payments TestMemoryPerAggregate holds.
const liveAggregates = 100_000

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryPerAggregate restores 100,000 live payments with DecodeState,
// as the engine does on assignment, and measures the heap they keep: the
// state itself (dedup memory included) must stay under 1 KiB. The figure
// with an engine-like map[string]State around it is logged too.
func TestMemoryPerAggregate(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("restores 100,000 states; a measurement, skipped with -short (never under CI)")
	}
	a, codec := newTestAggregate(t)
	keys := make([]string, liveAggregates)
	states := make([]processors.State, liveAggregates)

	before := heapInUse()
	for i := range states {
		// The value is garbage once decoded, as in the engine's restore.
		st, err := a.DecodeState(encodedState(t, codec, i))
		if err != nil {
			t.Fatal(err)
		}
		states[i] = st
	}
	afterStates := heapInUse()
	for i, st := range states {
		keys[i] = a.Payment(st).ID
	}
	store := make(map[string]processors.State)
	for i, st := range states {
		store[string([]byte(keys[i]))] = st // the engine's key is its own copy of the record key
	}
	keys = nil
	afterMap := heapInUse()

	perState := float64(afterStates-before) / liveAggregates
	perEntry := float64(afterMap-before) / liveAggregates
	t.Logf("%d live payments: %.0f bytes per state (dedup window 16 included), %.0f bytes per state with its map entry and key",
		liveAggregates, perState, perEntry)
	if perState >= 1024 {
		t.Errorf("%.0f bytes per live payment, want under 1024", perState)
	}
	runtime.KeepAlive(states)
	runtime.KeepAlive(store)
}

// TestMemoryPerAggregateAfterCommands measures the states Handle builds:
// 10,000 payments, each created and updated 15 times from decoded command
// records, so the dedup window is full.
func TestMemoryPerAggregateAfterCommands(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("handles 160,000 commands; a measurement, skipped with -short (never under CI)")
	}
	const n = 10_000
	a, codec := newTestAggregate(t)
	states := make([]processors.State, n)
	decode := func(cmd *schemas.CommandEnvelope) processors.Command {
		c, err := a.DecodeCommand(commandRecord(t, codec, cmd))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := heapInUse()
	for i := range states {
		id, org, user := uuid.NewString(), uuid.NewString(), uuid.NewString()
		cmd := createCmd(uuid.NewString(), 1000, "EUR", fmt.Sprintf("%-32s", fmt.Sprint("invoice ", i)))
		cmd.PaymentID, cmd.OrganizationID, cmd.UserID = id, org, user
		st := a.Handle(nil, decode(cmd), now).NewState
		for j := 0; j < 15; j++ {
			up := updateCmd(uuid.NewString(), i64(int64(2000+j)), str("EUR"), nil)
			up.PaymentID, up.OrganizationID, up.UserID = id, org, user
			out := a.Handle(st, decode(up), now)
			if out.Label != LabelAccepted {
				t.Fatalf("update %d of payment %d: %s", j, i, out.Label)
			}
			st = out.NewState
		}
		states[i] = st
	}
	per := float64(heapInUse()-before) / n
	t.Logf("%d payments after 16 commands each: %.0f bytes per state (dedup window 16 included)", n, per)
	if per >= 1024 {
		t.Errorf("%.0f bytes per live payment, want under 1024", per)
	}
	runtime.KeepAlive(states)
}
