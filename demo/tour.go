package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TourConfig is the demo's walk through `prism serve`: one request of
// every endpoint against the query service at BaseURL.
type TourConfig struct {
	// BaseURL of the query service, e.g. http://127.0.0.1:8080.
	BaseURL string
	// PaymentID and OrganizationID name a live payment of the workload
	// (Sources.SampleID and its organization).
	PaymentID, OrganizationID string
	// Tag makes the command the tour posts new on every run (its ids).
	Tag string
	// Client; http.DefaultClient when nil. Requests carry no token: the
	// demo serves with --auth none.
	Client *http.Client
	Out    io.Writer
}

// maxShown bounds the answer bytes printed per request.
const maxShown = 600

// tourAnswer is one request's answer as the tour prints it.
type tourAnswer struct {
	status        int
	source, cache string
	body          []byte
}

// Tour asks every endpoint once and prints, for each, the request, the
// status, X-Prism-Source, X-Prism-Cache and the answer (cut at maxShown
// bytes): by id, search, statistics, analytics, then POST /v1/commands
// (a new payment of the organization, with a correlation id of its own),
// then that payment by id and its timeline, both with the consistency
// token the command returned (read-your-writes). A status other than the
// expected one is an error.
func Tour(ctx context.Context, cfg TourConfig) error {
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	fmt.Fprintf(cfg.Out, "\nquerying prism serve at %s (one answer of each endpoint):\n", cfg.BaseURL)
	org := url.PathEscape(cfg.OrganizationID)
	for _, path := range []string{
		"/v1/payments/" + url.PathEscape(cfg.PaymentID),
		"/v1/payments/" + url.PathEscape(cfg.PaymentID), // again: now from the cache
		"/v1/payments?" + url.Values{"organizationId": {cfg.OrganizationID}, "sort": {"amount"}, "order": {"desc"}, "size": {"2"}}.Encode(),
		"/v1/organizations/" + org + "/statistics",
		"/v1/organizations/" + org + "/analytics?interval=month",
	} {
		if _, err := tourStep(ctx, cfg, http.MethodGet, path, nil, http.StatusOK); err != nil {
			return err
		}
	}

	paymentID, corr := "demo-serve-"+cfg.Tag, "demo-serve-flow-"+cfg.Tag
	cmd, err := json.Marshal(map[string]string{
		"type": "CreatePayment", "commandId": "demo-serve-cmd-" + cfg.Tag, "paymentId": paymentID,
		"organizationId": cfg.OrganizationID, "userId": "demo-user", "amount": "42.50", "currency": "EUR",
		"description": "posted through prism serve", "correlationId": corr,
	})
	if err != nil {
		return err
	}
	a, err := tourStep(ctx, cfg, http.MethodPost, "/v1/commands?wait=10s", cmd, http.StatusOK)
	if err != nil {
		return err
	}
	var result struct {
		Accepted         bool   `json:"accepted"`
		ConsistencyToken string `json:"consistencyToken"`
	}
	if err := json.Unmarshal(a.body, &result); err != nil || !result.Accepted {
		return fmt.Errorf("POST /v1/commands: the command was not accepted: %s", a.body)
	}
	consistent := ""
	if result.ConsistencyToken != "" {
		consistent = "?" + url.Values{"consistencyToken": {result.ConsistencyToken}, "wait": {"10s"}}.Encode()
	}
	for _, path := range []string{
		"/v1/payments/" + url.PathEscape(paymentID) + consistent,
		"/v1/timeline/" + url.PathEscape(corr) + consistent,
	} {
		if _, err := tourStep(ctx, cfg, http.MethodGet, path, nil, http.StatusOK); err != nil {
			return err
		}
	}
	fmt.Fprintln(cfg.Out, "\nOK: every endpoint of prism serve answered.")
	return nil
}

// tourStep sends one request, prints its answer and checks its status.
func tourStep(ctx context.Context, cfg TourConfig, method, path string, body []byte, want int) (tourAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return tourAnswer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := cfg.Client.Do(req)
	if err != nil {
		return tourAnswer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return tourAnswer{}, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	a := tourAnswer{status: res.StatusCode, source: res.Header.Get("X-Prism-Source"), cache: res.Header.Get("X-Prism-Cache"), body: b}
	fmt.Fprintf(cfg.Out, "\n%s %s\n  %d  X-Prism-Source: %s  X-Prism-Cache: %s\n", method, path, a.status, orDash(a.source), orDash(a.cache))
	if body != nil {
		fmt.Fprintf(cfg.Out, "  sent: %s\n", body)
	}
	shown := strings.TrimSpace(string(b))
	if len(shown) > maxShown {
		shown = shown[:maxShown] + fmt.Sprintf("... (%d bytes)", len(b))
	}
	fmt.Fprintf(cfg.Out, "  %s\n", shown)
	if a.status != want {
		return a, fmt.Errorf("%s %s: status %d, want %d", method, path, a.status, want)
	}
	return a, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
