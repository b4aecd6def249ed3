package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/grafana"
)

// TestDashboardMetricsAreExported runs the components the Grafana
// dashboard (deploy/grafana/prism.json) draws — `prism process`, `prism
// sink postgres`, `prism serve` and `prism lag --serve-metrics` — against
// the real services, sends a command through the gateway and queries
// through the cache, scrapes every /metrics and fails naming each metric a
// dashboard query uses that no component exports.
func TestDashboardMetricsAreExported(t *testing.T) {
	started := time.Now()
	d, err := grafana.Load(filepath.Join(sinkRepoRoot(), "deploy", "grafana", "prism.json"))
	if err != nil {
		t.Fatal(err)
	}
	queries, err := d.Queries()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string][]string{} // metric name → where the dashboard uses it
	for _, q := range queries {
		names := grafana.MetricNames(q.Expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric name found in %s", q.Where, q.Expr)
		}
		for _, n := range names {
			used[n] = append(used[n], q.Where)
		}
	}

	s := newServeEnv(t, 3)
	procAddr := freeAddr(t)
	s.start("proc", false, "process", "--http", procAddr, "--instance-id", "dash", "--session-timeout", "6s")
	sink := s.startSink("sink-postgres", "postgres")
	srv := s.startServe("serve", serveTokens{serveOperator: "*"})
	lagAddr := freeAddr(t)
	lagProc := s.start("lag", false, "lag", "--serve-metrics", lagAddr)

	// A command through the gateway (the processor handles it, the sink
	// writes it), then the same payment read twice (a miss, then a hit).
	pid := s.ns + "-dash"
	create := fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-c1","paymentId":"%s","organizationId":"org-a","userId":"u-1","amount":"12.00","currency":"EUR"}`, s.ns, pid)
	if r := srv.do(t, http.MethodPost, serveOperator, "/v1/commands?wait=20s", []byte(create)); r.status != http.StatusOK {
		t.Fatalf("POST /v1/commands: %s, want 200", r)
	}
	s.waitLag(time.Minute, "processor", "postgres")
	for range 2 {
		if r := srv.get(t, serveOperator, "/v1/payments/"+pid); r.status != http.StatusOK {
			t.Errorf("GET the payment: %s, want 200", r)
		}
	}

	components := map[string]string{
		"prism process":             "http://" + procAddr + "/metrics",
		"prism sink postgres":       "http://" + sink.http + "/metrics",
		"prism serve":               srv.base + "/metrics",
		"prism lag --serve-metrics": "http://" + lagAddr + "/metrics",
	}
	var missing []string
	var exported map[string]string
	for deadline := time.Now().Add(time.Minute); ; {
		select {
		case <-lagProc.done:
			t.Fatalf("prism lag --serve-metrics exited: %v\n%s", lagProc.err, tailFile(lagProc.log, 30))
		default:
		}
		exported = map[string]string{}
		var scrapeErrs []string
		for name, url := range components {
			fams, err := scrapeFamilies(url)
			if err != nil {
				scrapeErrs = append(scrapeErrs, name+": "+err.Error())
				continue
			}
			for f, typ := range fams {
				exported[f] = typ
			}
		}
		missing = missing[:0]
		for n := range used {
			if !exportedName(exported, n) {
				missing = append(missing, n)
			}
		}
		if len(scrapeErrs) == 0 && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			slices.Sort(missing)
			for _, e := range scrapeErrs {
				t.Errorf("scrape %s", e)
			}
			for _, n := range missing {
				t.Errorf("the dashboard uses %s (%s), which no component exports", n, strings.Join(used[n], "; "))
			}
			t.FailNow()
		}
		time.Sleep(time.Second)
	}

	// The lag as scraped is the lag as `prism lag` computes it on the
	// real broker: the processor and the sink caught up are at 0 (the
	// transaction markers after the events settled), a sink group that
	// never ran lags by the events it has not read.
	lagURL := components["prism lag --serve-metrics"]
	for _, c := range []struct {
		group string
		want  func(float64) bool
		what  string
	}{
		{s.names.ProcessorGroup(), func(v float64) bool { return v == 0 }, "0"},
		{s.names.SinkGroup("postgres"), func(v float64) bool { return v == 0 }, "0"},
		{s.names.SinkGroup("redis"), func(v float64) bool { return v >= 1 }, "at least 1 (it never ran)"},
	} {
		v, n, err := scrapeSum(lagURL, "prism_group_lag_records", `group="`+c.group+`"`)
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 || !c.want(v) {
			t.Errorf("prism_group_lag_records{group=%q}: %d partitions summing to %v, want 3 partitions summing to %s", c.group, n, v, c.what)
		}
	}
	t.Logf("%d metric names of %d dashboard queries found among the %d families of 4 components, in %s",
		len(used), len(queries), len(exported), time.Since(started).Round(100*time.Millisecond))
}

// exportedName reports whether the name a query uses is exported: a
// family of that name, or the _bucket, _sum or _count series of a
// histogram (_sum and _count of a summary too).
func exportedName(families map[string]string, name string) bool {
	if _, ok := families[name]; ok {
		return true
	}
	for _, suf := range grafana.HistogramSuffixes {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		switch families[base] {
		case "histogram":
			return true
		case "summary":
			return suf != "_bucket"
		}
	}
	return false
}

// scrapeFamilies GETs a Prometheus text /metrics and returns its families'
// names and types, as its # TYPE lines give them.
func scrapeFamilies(url string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("GET %s: no metric family", url)
	}
	return out, nil
}

// scrapeSum GETs a Prometheus text /metrics and sums the samples of name
// whose labels hold every matcher (`label="value"`); n is their count.
func scrapeSum(url, name string, matchers ...string) (sum float64, n int, err error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, m := range matchers {
			ok = ok && strings.Contains(line, m)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: line %q: %w", url, line, err)
		}
		sum += v
		n++
	}
	return sum, n, sc.Err()
}
