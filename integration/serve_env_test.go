package integration

// Environment of the `prism serve` tests (serve_*_test.go): a namespace
// whose pipeline (`prism process` and the four `prism sink` commands) is
// filled with generated commands, `prism serve` processes started with a
// tokens file, and an HTTP client that validates every response against
// the OpenAPI document (internal/openapicheck).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/internal/openapicheck"
	"github.com/prism-cqrs/prism/payment/schemas"
)

// serveEnv is one namespace for the serve tests.
type serveEnv struct {
	*sinkEnv
	tt       *testing.T
	es       *esStore
	rs       *redisStore
	redisURL string
	esURL    string
	check    *openapicheck.Checker

	cmds []*schemas.CommandEnvelope
	exp  *serveExpect
	proc *sinkProc
	// sinks are the running sink processes by sink name.
	sinks map[string]*sinkProc
}

// The sinks of a full pipeline.
var serveSinks = []string{"postgres", "readmodels", "redis", "elasticsearch"}

func newServeEnv(t *testing.T, partitions int32) *serveEnv {
	t.Helper()
	e := newSinkEnv(t, partitions)
	es, rs := esAndRedisStores(t, e)
	return &serveEnv{sinkEnv: e, tt: t, es: es, rs: rs, redisURL: rs.url, esURL: es.url, check: openapicheck.New(t), sinks: map[string]*sinkProc{}}
}

// fill generates n commands (seed), starts the processor and the four
// sinks, produces the commands and waits until every sink has applied
// every event (lag 0); it then reads the events topic for what only the
// processor knows (event ids and times) and refreshes the Elasticsearch
// alias so that searches see every document.
func (s *serveEnv) fill(ctx context.Context, n int, seed uint64) {
	s.t.Helper()
	start := time.Now()
	cmds, x := generateSinkCommands(n, seed, s.ns)
	s.cmds = cmds
	s.startPipeline()
	s.produceCommands(ctx, cmds)
	s.waitCaughtUp(2 * time.Minute)
	s.exp = readServeExpect(s.tt, s.sinkEnv, x)
	s.refreshES(ctx)
	s.t.Logf("pipeline filled: %d commands, %d payments, %d events, %d live, in %s",
		len(cmds), len(x.payments), len(x.events), len(x.live()), time.Since(start).Round(100*time.Millisecond))
}

// startPipeline starts `prism process` and the four sinks.
func (s *serveEnv) startPipeline() {
	s.proc = s.startProcessor("proc-1")
	for _, sk := range serveSinks {
		var extra []string
		switch sk {
		case "redis":
			extra = []string{"--redis-url", s.redisURL, "--redis-recent-size", "100000"}
		case "elasticsearch":
			extra = []string{"--elasticsearch-url", s.esURL}
		}
		s.sinks[sk] = s.startSink("sink-"+sk, sk, extra...)
	}
}

// waitCaughtUp waits until the processor's group has read every command
// and each sink's group every event: the lag `prism lag` shows as 0.
func (s *serveEnv) waitCaughtUp(timeout time.Duration) {
	s.t.Helper()
	s.waitLag(timeout, append([]string{"processor"}, serveSinks...)...)
}

// waitLag waits until each stage ("processor" or a sink's name) has read
// its topic to the end.
func (s *serveEnv) waitLag(timeout time.Duration, stages ...string) {
	s.t.Helper()
	adm := kadm.NewClient(s.cl)
	want := map[string]string{}
	for _, st := range stages {
		if st == "processor" {
			want[s.names.ProcessorGroup()] = s.names.CommandsTopic()
		} else {
			want[s.names.SinkGroup(st)] = s.names.EventsTopic()
		}
	}
	groups := make([]string, 0, len(want))
	for g := range want {
		groups = append(groups, g)
	}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		last = ""
		lags, err := adm.Lag(context.Background(), groups...)
		if err != nil {
			last = err.Error()
		}
		for g, topic := range want {
			gl, ok := lags[g]
			switch {
			case !ok:
				last += " " + g + ": no lag"
			case gl.Error() != nil:
				last += fmt.Sprintf(" %s: %v", g, gl.Error())
			default:
				tl, ok := gl.Lag.TotalByTopic()[topic]
				if !ok || tl.Lag != 0 {
					last += fmt.Sprintf(" %s: lag %d", g, tl.Lag)
				}
			}
		}
		if last == "" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Fatalf("the pipeline did not catch up within %s:%s", timeout, last)
}

// refreshES makes every indexed document visible to searches.
func (s *serveEnv) refreshES(ctx context.Context) {
	s.t.Helper()
	alias := s.names.ElasticsearchAlias()
	if st, err := s.es.call(ctx, http.MethodPost, "/"+alias+"/_refresh", nil, nil); err != nil || st != http.StatusOK {
		s.t.Fatalf("refresh %s: status %d: %v", alias, st, err)
	}
}

// ---------------------------------------------------------------- serve

// serveProc is one `prism serve` process.
type serveProc struct {
	*sinkProc
	env    *serveEnv
	base   string
	client *http.Client // keeps up to 64 idle connections (concurrent tests)
}

// tokens maps each test token to its scope as the tokens file writes it
// ("org-a", "org-a,org-b" or "*").
type serveTokens map[string]string

// writeTokensFile writes the tokens file (hashes only) and returns its
// path.
func writeTokensFile(t testing.TB, tokens serveTokens) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# prism serve tokens of the test\n\n")
	for tok, scope := range tokens {
		sum := sha256.Sum256([]byte(tok))
		fmt.Fprintf(&b, "%s %s\n", hex.EncodeToString(sum[:]), scope)
	}
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServe runs `prism serve --http <addr> --auth tokens --tokens-file
// <file>` over the namespace and waits until /healthz answers.
func (s *serveEnv) startServe(name string, tokens serveTokens, extra ...string) *serveProc {
	s.t.Helper()
	args := append([]string{"serve", "--auth", "tokens", "--tokens-file", writeTokensFile(s.t, tokens),
		"--redis-url", s.redisURL, "--elasticsearch-url", s.esURL}, extra...)
	p := &serveProc{sinkProc: s.start(name, true, args...), env: s,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	s.t.Cleanup(p.client.CloseIdleConnections)
	p.base = "http://" + p.http
	deadline := time.Now().Add(30 * time.Second)
	for p.health() != http.StatusOK {
		select {
		case <-p.done:
			s.t.Fatalf("%s exited at start: %v\n%s", name, p.err, tailFile(p.log, 30))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: /healthz did not answer 200 within 30 s\n%s", name, tailFile(p.log, 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// apiResp is one HTTP answer of serve.
type apiResp struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResp) source() string { return r.header.Get("X-Prism-Source") }
func (r apiResp) cache() string  { return r.header.Get("X-Prism-Cache") }

// errorParam returns the "parameter" of an error body ("" when none).
func (r apiResp) errorParam() string {
	var e struct {
		Parameter string `json:"parameter"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Parameter
}

func (r apiResp) String() string {
	return fmt.Sprintf("%d %s (source %q, cache %q)", r.status, clipBody(r.body), r.source(), r.cache())
}

func clipBody(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// do sends one request (token "" sends no Authorization header) and
// validates the response against the OpenAPI document.
func (p *serveProc) do(t testing.TB, method, token, path string, body []byte) apiResp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the body: %v", method, path, err)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s %s: %d %s (never a 500)", method, path, resp.StatusCode, clipBody(b))
	}
	// The checker reads the request again: give it one without a body.
	creq, _ := http.NewRequestWithContext(context.Background(), method, p.base+path, nil)
	if body != nil {
		creq, _ = http.NewRequestWithContext(context.Background(), method, p.base+path, bytes.NewReader(body))
		creq.Header.Set("Content-Type", "application/json")
	}
	p.env.check.Check(t, creq, resp.StatusCode, resp.Header, b)
	return apiResp{status: resp.StatusCode, header: resp.Header, body: b}
}

func (p *serveProc) get(t testing.TB, token, path string) apiResp {
	t.Helper()
	return p.do(t, http.MethodGet, token, path, nil)
}

// getOK GETs path and requires 200.
func (p *serveProc) getOK(t testing.TB, token, path string) apiResp {
	t.Helper()
	r := p.get(t, token, path)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %s, want 200", path, r)
	}
	return r
}

// healthz returns /healthz's sources by name (healthy or not).
func (p *serveProc) healthz(t testing.TB) map[string]bool {
	t.Helper()
	r := p.get(t, "", "/healthz")
	if r.status != http.StatusOK {
		t.Fatalf("/healthz: %s, want 200 while the process runs", r)
	}
	var h struct {
		Status  string `json:"status"`
		Sources []struct {
			Name    string `json:"name"`
			Healthy bool   `json:"healthy"`
		} `json:"sources"`
	}
	if err := json.Unmarshal(r.body, &h); err != nil {
		t.Fatalf("/healthz body %s: %v", r.body, err)
	}
	out := map[string]bool{}
	for _, s := range h.Sources {
		out[s.Name] = s.Healthy
	}
	return out
}

// metric sums the samples of a metric on /metrics whose labels hold every
// "name=value" of match.
func (p *serveProc) metric(t testing.TB, name string, match ...string) float64 {
	t.Helper()
	r := p.get(t, "", "/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("/metrics: %d", r.status)
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			k, v, _ := strings.Cut(m, "=")
			if !strings.Contains(line, k+`="`+v+`"`) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
