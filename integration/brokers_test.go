package integration

import (
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/kafkaconn"
)

// TestWrongBrokersFailFast points --brokers of every command that talks to
// Kafka at a port that is not Kafka (the real Redis, which stays silent to a
// Kafka request) and at a closed port. Each run must exit 1 within the probe
// bound plus start-up slack, naming the address and the problem.
func TestWrongBrokersFailFast(t *testing.T) {
	ru, err := url.Parse(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	redisAddr := ru.Host
	closed := freeAddr(t)
	commands := [][]string{
		{"topology", "apply"},
		{"topology", "diff"},
		{"produce", "--generate", "3"},
		// process waits for a broker that is down (nothing listening) up to
		// --broker-unreachable-timeout, then exits 1 naming the address.
		{"process", "--http", "", "--broker-unreachable-timeout", "3s"},
		// So does every sink.
		{"sink", "postgres", "--broker-unreachable-timeout", "3s"},
		{"lag"},
		{"demo", "--commands", "3"},
	}
	env := os.Environ()
	testkit.PrismBinary(t) // built before the clock starts
	peers := []struct {
		name, addr, want string
	}{
		{"not kafka", redisAddr, redisAddr + ": the peer did not answer as a Kafka broker"},
		{"closed port", closed, closed + ": nothing is listening there (connection refused)"},
	}
	bound := kafkaconn.DefaultProbeTimeout + 10*time.Second
	ns := testkit.Namespace(t)
	t.Run("group", func(t *testing.T) {
		for _, p := range peers {
			for _, c := range commands {
				t.Run(p.name+"/"+strings.Join(c[:min(2, len(c))], " "), func(t *testing.T) {
					t.Parallel()
					ctx := testkit.Context(t, 2*bound)
					start := time.Now()
					out, code := runPrismOut(ctx, t, env,
						append(c, "--namespace", ns, "--brokers", p.addr)...)
					took := time.Since(start)
					want := 1
					if c[0] == "topology" && c[1] == "diff" {
						want = 3 // 1 means drift (README)
					}
					if code != want {
						t.Errorf("prism %s: exit %d, want %d\n%s", strings.Join(c, " "), code, want, out)
					}
					if took > bound {
						t.Errorf("prism %s: took %s, want at most %s", strings.Join(c, " "), took.Round(time.Millisecond), bound)
					}
					if !strings.Contains(out, p.want) {
						t.Errorf("prism %s: output lacks %q:\n%s", strings.Join(c, " "), p.want, out)
					}
				})
			}
		}
	})
}
