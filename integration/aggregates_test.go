package integration

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// registeredAggregates caches what the binary says it serves.
var registeredAggregates struct {
	once    sync.Once
	plurals []string
	err     string
}

// registeredPlurals asks the binary which aggregates it serves (the first
// line of `prism topology describe`: "Topology of namespace x, aggregates
// payments, invoices"), so that tests create the topics `prism process` and
// `prism sink` need without a list of their own.
func registeredPlurals(t testing.TB) []string {
	t.Helper()
	bin := testkit.PrismBinary(t)
	r := &registeredAggregates
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "topology", "describe", "--namespace", "probe").Output()
		if err != nil {
			r.err = "prism topology describe: " + err.Error()
			return
		}
		first, _, _ := strings.Cut(string(out), "\n")
		_, list, ok := strings.Cut(first, ", aggregates ")
		if !ok {
			r.err = "prism topology describe: no aggregates in its first line " + first
			return
		}
		r.plurals = strings.Split(strings.TrimSpace(list), ", ")
	})
	if r.err != "" {
		t.Fatal(r.err)
	}
	return r.plurals
}
