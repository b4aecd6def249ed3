package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/topology"
)

// statusArtifactsDir is where the browser test leaves its screenshot:
// $PRISM_ARTIFACTS_DIR, else integration/testdata/artifacts (git-ignored).
func statusArtifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PRISM_ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// pageStage is one stage box as the page shows it.
type pageStage struct {
	ID      string `json:"id"`
	Health  string `json:"health"`
	Offset  string `json:"offset"`
	Rate    string `json:"rate"`
	Lag     string `json:"lag"`
	Members string `json:"members"`
}

// readPageStages reads every stage box of the page (its data attributes).
const readPageStages = `Array.from(document.querySelectorAll('[data-stage]')).map(e => {
  const f = (n) => { const d = e.querySelector('[data-field="' + n + '"]'); return d ? d.dataset.value : ""; };
  return {id: e.dataset.stage, health: e.dataset.health, offset: f("offset"), rate: f("rate"), lag: f("lag"), members: f("members")};
})`

// TestStatusPageInBrowser runs the payments pipeline (`prism process`, the
// four sinks) and `prism serve`, and opens /status in headless Chromium
// with the operator token in the fragment: the page loads without any
// console error or exception, the token leaves the address bar, every
// stage of every registered aggregate and the query service is drawn, the
// running stages are healthy, and after commands are produced the offsets
// and rates of the commands topic, the processor and every sink move and
// a rejected command is listed with its reason, and a rebuild recorded in
// the namespace's rebuilds topic is listed with its progress. It saves a screenshot
// (PNG) in statusArtifactsDir and logs its path.
func TestStatusPageInBrowser(t *testing.T) {
	started := time.Now()
	chromium := testkit.Chromium(t)
	ctx := testkit.Context(t, 4*time.Minute)
	s := newServeEnv(t, 3)
	s.startPipeline()
	srv := s.startServe("serve", serveTokens{serveOperator: "*", serveTokA: "org-a"})

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1500, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()

	var mu sync.Mutex
	var console []string
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				mu.Lock()
				console = append(console, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	consoleErrors := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(console)
	}

	if err := chromedp.Do(bctx, chromedp.Navigate(srv.base+"/status#token="+serveOperator)); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	stages := func() map[string]pageStage {
		t.Helper()
		list, err := chromedp.Run(bctx, chromedp.Evaluate[[]pageStage](readPageStages))
		if err != nil {
			t.Fatalf("read the stages: %v", err)
		}
		out := map[string]pageStage{}
		for _, st := range list {
			out[st.ID] = st
		}
		return out
	}
	// waitPage polls the page until ok holds of its stages.
	waitPage := func(what string, timeout time.Duration, ok func(map[string]pageStage) bool) map[string]pageStage {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			st := stages()
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				b, _ := json.MarshalIndent(st, "", " ")
				text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
				t.Fatalf("the page did not show %s within %s; console: %v\nstages: %s\npage text:\n%s", what, timeout, consoleErrors(), b, text)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	// Every stage of every registered aggregate, and the query service.
	want := []string{"query"}
	for _, plural := range registeredPlurals(t) {
		want = append(want, plural+"/commands", plural+"/processor", plural+"/events")
		for _, sk := range topology.SinkNames {
			want = append(want, plural+"/sink/"+sk)
		}
	}
	p := s.names.Plural
	running := []string{p + "/processor"}
	for _, sk := range topology.SinkNames {
		running = append(running, p+"/sink/"+sk)
	}
	before := waitPage("every stage, the payments groups healthy", 60*time.Second, func(st map[string]pageStage) bool {
		for _, id := range want {
			if _, ok := st[id]; !ok {
				return false
			}
		}
		for _, id := range running {
			if st[id].Health != "ok" {
				return false
			}
		}
		return true
	})
	if hash, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash`)); err != nil || hash != "" {
		t.Errorf("location.hash %q (%v): the token must leave the address bar", hash, err)
	}
	if got := len(before); got != len(want) {
		t.Errorf("the page shows %d stages, want %d (%v)", got, len(want), want)
	}

	// Commands: a generated batch (accepted, duplicates, a few rejected)
	// and one update of a payment that does not exist (NOT_FOUND).
	cmds, _ := generateSinkCommands(400, 7, s.ns)
	missing := &schemas.CommandEnvelope{CommandID: s.ns + "-nobody-1", Type: schemas.TypeUpdatePayment, PaymentID: s.ns + "-nobody",
		OrganizationID: "org-a", UserID: "u-1", IssuedAt: time.Now().UTC()}
	amount, cur := int64(5), "EUR"
	missing.Payload.Update = &schemas.UpdatePayment{AmountMinor: &amount, Currency: &cur}
	cmds = append(cmds, missing)
	s.produceCommands(ctx, cmds)

	moved := []string{p + "/commands", p + "/processor", p + "/events"}
	for _, sk := range topology.SinkNames {
		moved = append(moved, p+"/sink/"+sk)
	}
	rated := map[string]bool{}
	after := waitPage("the offsets and rates move after the commands", 90*time.Second, func(st map[string]pageStage) bool {
		done := true
		for _, id := range moved {
			if st[id].Rate != "" && st[id].Rate != "0" {
				rated[id] = true
			}
			if st[id].Offset == before[id].Offset || !rated[id] {
				done = false
			}
		}
		return done && st[p+"/commands"].Offset == fmt.Sprint(len(cmds))
	})
	for _, id := range running {
		if after[id].Members == "" || after[id].Members == "0" {
			t.Errorf("%s shows %q members while it runs", id, after[id].Members)
		}
	}
	s.waitCaughtUp(2 * time.Minute)
	waitPage("every group caught up (lag 0)", 30*time.Second, func(st map[string]pageStage) bool {
		for _, id := range running {
			if st[id].Lag != "0" {
				return false
			}
		}
		return true
	})

	// The rejected command, with its reason.
	sel := fmt.Sprintf(`[data-rejected-of="%s"] tr[data-rejected="%s"] td.reason`, p, missing.CommandID)
	reason, err := chromedp.Run(bctx, chromedp.Poll[string](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : false; })()`, sel),
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || reason != "NOT_FOUND" {
		t.Errorf("the rejected command %s: reason %q (%v), want NOT_FOUND", missing.CommandID, reason, err)
	}

	// A rebuild under way, recorded as `prism rebuild` records it: listed
	// with its progress.
	states, err := rebuild.NewStateLog([]kgo.Opt{kgo.SeedBrokers(s.brokers...)}, s.names.RebuildsTopic())
	if err != nil {
		t.Fatal(err)
	}
	defer states.Close()
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kadm.NewClient(s.cl).DeleteTopics(dctx, s.names.RebuildsTopic()); err != nil {
			t.Logf("delete %s: %v", s.names.RebuildsTopic(), err)
		}
	})
	if err := states.Save(ctx, &rebuild.Status{Namespace: s.ns, Aggregate: p, Sink: "postgres", Mode: rebuild.ModeSideBySide,
		Phase: rebuild.PhaseBuilding, FromVersion: 1, ToVersion: 2, Done: 120, Total: 410, StartedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	progress, err := chromedp.Run(bctx, chromedp.Poll[string](fmt.Sprintf(
		`(() => { const e = document.querySelector('tr[data-rebuild="%s/postgres"] progress'); return e ? e.value + "/" + e.max : false; })()`, p),
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || progress != "120/410" {
		t.Errorf("the rebuild under way: progress %q (%v), want 120/410", progress, err)
	}

	// The JSON the page reads: the OpenAPI document's schema (srv.get
	// checks it), operators only.
	if r := srv.get(t, serveTokA, "/v1/status"); r.status != 403 {
		t.Errorf("/v1/status with an organization's token: %s, want 403", r)
	}
	if r := srv.get(t, "", "/v1/status"); r.status != 401 {
		t.Errorf("/v1/status without a token: %s, want 401", r)
	}
	var snap struct {
		Aggregates []struct {
			Plural string `json:"plural"`
		} `json:"aggregates"`
	}
	if err := json.Unmarshal(srv.getOK(t, serveOperator, "/v1/status").body, &snap); err != nil || len(snap.Aggregates) != len(registeredPlurals(t)) {
		t.Errorf("/v1/status: %+v (%v), want one entry per registered aggregate", snap, err)
	}

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(statusArtifactsDir(t), "status-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("the screenshot is not a PNG")
	}
	t.Logf("status page screenshot: %s (%d bytes)", shot, len(png))

	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("the page wrote %d console errors or warnings:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	t.Logf("status page in the browser: %d commands, %s", len(cmds), time.Since(started).Round(100*time.Millisecond))
}
