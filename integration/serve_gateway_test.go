package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries/payments"
)

// gatewayResult is POST /v1/commands' answer as the test reads it.
type gatewayResult struct {
	CommandID        string `json:"commandId"`
	Aggregate        string `json:"aggregate"`
	AggregateID      string `json:"aggregateId"`
	Accepted         bool   `json:"accepted"`
	Duplicate        bool   `json:"duplicate"`
	EventVersion     int64  `json:"eventVersion"`
	CorrelationID    string `json:"correlationId"`
	ConsistencyToken string `json:"consistencyToken"`
	Reason           string `json:"reason"`
	Message          string `json:"message"`
	Field            string `json:"field"`
	Status           string `json:"status"`
}

// TestServeGateway sends commands through POST /v1/commands of `prism
// serve` in a namespace of its own: accepted ones (200 with a consistency
// token with which the next query sees the write), rejected ones for each
// reason the rules give (422 with the reason), a retried POST (the same
// answer, byte for byte), a reused command id (409), bad bodies (400) and
// a command whose result does not come within the wait because the
// processor is stopped (202, then the result once it runs again).
func TestServeGateway(t *testing.T) {
	started := time.Now()
	s := newServeEnv(t, 3)
	s.startPipeline()
	const tokA, op = serveTokA, serveOperator
	srv := s.startServe("serve", serveTokens{tokA: "org-a", op: "*"})
	ns := s.ns
	post := func(token, body string, wait string) (apiResp, gatewayResult) {
		t.Helper()
		path := "/v1/commands"
		if wait != "" {
			path += "?wait=" + wait
		}
		r := srv.do(t, http.MethodPost, token, path, []byte(body))
		var g gatewayResult
		if r.status != http.StatusBadRequest && r.status < 500 {
			if err := json.Unmarshal(r.body, &g); err != nil {
				t.Fatalf("POST %s: %s: %v", body, r, err)
			}
		}
		return r, g
	}
	accepted := func(token, body string, version int64) gatewayResult {
		t.Helper()
		r, g := post(token, body, "20s")
		if r.status != http.StatusOK || !g.Accepted || g.Duplicate || g.EventVersion != version || g.Aggregate != "payments" || g.ConsistencyToken == "" {
			t.Fatalf("POST %s: %s, want 200 accepted at version %d with a consistency token", body, r, version)
		}
		return g
	}
	pid := ns + "-g1"
	create := fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-c1","paymentId":"%s","organizationId":"org-a","userId":"u-7","amount":"100.50","currency":"EUR","description":"gateway zebra","correlationId":"%s-wf"}`, ns, pid, ns)

	t.Run("accepted, then read with its consistency token", func(t *testing.T) {
		first, _ := post(tokA, create, "20s")
		var g gatewayResult
		_ = json.Unmarshal(first.body, &g)
		if first.status != http.StatusOK || g.CommandID != ns+"-c1" || g.AggregateID != pid || !g.Accepted || g.Duplicate ||
			g.EventVersion != 1 || g.CorrelationID != ns+"-wf" || g.ConsistencyToken == "" || g.Aggregate != "payments" {
			t.Fatalf("create: %s", first)
		}
		tok := url.QueryEscape(g.ConsistencyToken)
		var p payments.Payment
		r := srv.getOK(t, tokA, "/v1/payments/"+pid+"?consistencyToken="+tok)
		if err := json.Unmarshal(r.body, &p); err != nil || p.Version != 1 || p.Amount != "100.50" || p.Description != "gateway zebra" || p.OrganizationID != "org-a" {
			t.Errorf("by id with the create's token: %s", r)
		}
		var sa payments.SearchAnswer
		r = srv.getOK(t, tokA, "/v1/payments?q=zebra&consistencyToken="+tok)
		if err := json.Unmarshal(r.body, &sa); err != nil || sa.Total != 1 || sa.Items[0].ID != pid {
			t.Errorf("search with the create's token: %s", r)
		}
		var st payments.StatisticsAnswer
		r = srv.getOK(t, tokA, "/v1/organizations/org-a/statistics?consistencyToken="+tok)
		if err := json.Unmarshal(r.body, &st); err != nil || st.Count != 1 {
			t.Errorf("statistics with the create's token: %s", r)
		}
		var tl payments.TimelineAnswer
		r = srv.getOK(t, tokA, "/v1/timeline/"+ns+"-wf?consistencyToken="+tok)
		if err := json.Unmarshal(r.body, &tl); err != nil || len(tl.Events) != 1 || tl.Events[0].AggregateID != pid {
			t.Errorf("timeline with the create's token: %s", r)
		}

		// An update read at once with its token: the new version, never
		// the cached old one.
		for v := int64(2); v <= 4; v++ {
			g := accepted(tokA, fmt.Sprintf(`{"type":"UpdatePayment","commandId":"%s-u%d","paymentId":"%s","organizationId":"org-a","userId":"u-7","amount":"%d.25","currency":"EUR"}`, ns, v, pid, 100+v), v)
			r := srv.getOK(t, tokA, "/v1/payments/"+pid+"?consistencyToken="+url.QueryEscape(g.ConsistencyToken))
			if err := json.Unmarshal(r.body, &p); err != nil || p.Version != v || p.Amount != fmt.Sprintf("%d.25", 100+v) {
				t.Errorf("by id with the token of update %d: %s", v, r)
			}
			if r := srv.getOK(t, tokA, fmt.Sprintf("/v1/payments/%s?minVersion=%d", pid, v)); !strings.Contains(string(r.body), fmt.Sprintf(`"version":%d`, v)) {
				t.Errorf("by id with minVersion=%d: %s", v, r)
			}
		}
		if r := srv.get(t, tokA, "/v1/payments/"+pid+"?minVersion=9&wait=500ms"); r.status != http.StatusConflict || !strings.Contains(string(r.body), `"currentVersion":4`) {
			t.Errorf("minVersion=9: %s, want 409 with currentVersion 4", r)
		}
	})

	t.Run("retried POST", func(t *testing.T) {
		first, _ := post(tokA, create, "20s")
		again, _ := post(tokA, create, "20s")
		if first.status != http.StatusOK || again.status != first.status || string(again.body) != string(first.body) {
			t.Errorf("the same command POSTed again: %s then %s, want the same answer byte for byte", first, again)
		}
		other := strings.Replace(create, `"100.50"`, `"999.00"`, 1)
		if r, _ := post(tokA, other, "5s"); r.status != http.StatusConflict || !strings.Contains(string(r.body), "commandId already used for a different command") {
			t.Errorf("the command id with another command: %s, want 409", r)
		}
	})

	t.Run("rejected", func(t *testing.T) {
		pidB := ns + "-gb"
		accepted(op, fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-cb","paymentId":"%s","organizationId":"org-b","userId":"u-8","amount":"5","currency":"JPY"}`, ns, pidB), 1)
		pidS := ns + "-gs"
		accepted(tokA, fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-cs","paymentId":"%s","organizationId":"org-a","userId":"u-7","amount":"7.00","currency":"USD"}`, ns, pidS), 1)
		accepted(tokA, fmt.Sprintf(`{"type":"ChangePaymentStatus","commandId":"%s-cs2","paymentId":"%s","organizationId":"org-a","userId":"u-7","status":"AUTHORIZED"}`, ns, pidS), 2)
		for _, c := range []struct {
			reason, field string
			version       int64
			body          string
		}{
			{"NOT_FOUND", "", 0, fmt.Sprintf(`{"type":"UpdatePayment","commandId":"%s-r1","paymentId":"%s-none","organizationId":"org-a","userId":"u-7","description":"x"}`, ns, ns)},
			{"ALREADY_EXISTS", "", 4, fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-r2","paymentId":"%s","organizationId":"org-a","userId":"u-7","amount":"1.00","currency":"EUR"}`, ns, pid)},
			{"INVALID_TRANSITION", "", 4, fmt.Sprintf(`{"type":"ChangePaymentStatus","commandId":"%s-r3","paymentId":"%s","organizationId":"org-a","userId":"u-7","status":"REFUNDED"}`, ns, pid)},
			{"VERSION_CONFLICT", "", 4, fmt.Sprintf(`{"type":"UpdatePayment","commandId":"%s-r4","paymentId":"%s","organizationId":"org-a","userId":"u-7","description":"y","expectedVersion":1}`, ns, pid)},
			{"FORBIDDEN", "", 0, fmt.Sprintf(`{"type":"DeletePayment","commandId":"%s-r5","paymentId":"%s","organizationId":"org-a","userId":"u-7"}`, ns, pidB)},
			{"INVALID_STATE", "", 2, fmt.Sprintf(`{"type":"UpdatePayment","commandId":"%s-r6","paymentId":"%s","organizationId":"org-a","userId":"u-7","description":"z"}`, ns, pidS)},
			{"INVALID_FIELD", "amountMinor", 0, fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-r7","paymentId":"%s-big","organizationId":"org-a","userId":"u-7","amount":"99999999999999.00","currency":"EUR"}`, ns, ns)},
		} {
			r, g := post(tokA, c.body, "20s")
			if r.status != http.StatusUnprocessableEntity || g.Accepted || g.Reason != c.reason || g.Message == "" || g.Aggregate != "payments" || g.AggregateID == "" || g.CommandID == "" {
				t.Errorf("%s: %s, want 422 %s", c.reason, r, c.reason)
				continue
			}
			if c.field != "" && g.Field != c.field {
				t.Errorf("%s: field %q, want %q", c.reason, g.Field, c.field)
			}
			if c.reason != "FORBIDDEN" && g.EventVersion != c.version {
				t.Errorf("%s: eventVersion %d, want %d", c.reason, g.EventVersion, c.version)
			}
			if c.reason == "FORBIDDEN" && strings.Contains(string(r.body), "org-b") {
				t.Errorf("FORBIDDEN names the payment's organization: %s", r.body)
			}
		}
		// Nothing of the rejected commands reached the read side.
		r := srv.getOK(t, op, "/v1/payments/"+pidB+"?minVersion=1")
		if !strings.Contains(string(r.body), `"version":1`) {
			t.Errorf("B's payment after the refused delete: %s", r)
		}
	})

	t.Run("bad bodies", func(t *testing.T) {
		line := fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-b%%d","paymentId":"%s-b","organizationId":"org-a","userId":"u-7","amount":"1.00","currency":"EUR"}`, ns, ns)
		for _, body := range []string{
			fmt.Sprintf(line, 1) + "\n" + fmt.Sprintf(line, 2),
			`{"type":"CreatePayment",`,
			strings.Replace(fmt.Sprintf(line, 3), `"amount":"1.00"`, `"amount":1.00`, 1),
			strings.Replace(fmt.Sprintf(line, 4), `"currency"`, `"colour":"red","currency"`, 1),
			strings.Replace(fmt.Sprintf(line, 5), `"type":"CreatePayment"`, `"type":"StealPayment"`, 1),
			strings.Replace(fmt.Sprintf(line, 6), `"amount":"1.00"`, `"amount":"-1.00"`, 1),
			``,
		} {
			r, _ := post(tokA, body, "5s")
			if r.status != http.StatusBadRequest || r.errorParam() != "body" {
				t.Errorf("POST %q: %s, want 400 naming the body", body, r)
			}
		}
		if r, _ := post(tokA, fmt.Sprintf(line, 7), "31s"); r.status != http.StatusBadRequest || r.errorParam() != "wait" {
			t.Errorf("wait=31s: %s, want 400 naming wait", r)
		}
	})

	t.Run("timeout with the processor stopped", func(t *testing.T) {
		s.proc.stop(t)
		body := fmt.Sprintf(`{"type":"CreatePayment","commandId":"%s-late","paymentId":"%s-late","organizationId":"org-a","userId":"u-7","amount":"3.00","currency":"GBP"}`, ns, ns)
		start := time.Now()
		r, g := post(tokA, body, "1s")
		if r.status != http.StatusAccepted || g.CommandID != ns+"-late" || g.Status != "pending" {
			t.Fatalf("POST with the processor stopped: %s, want 202 pending", r)
		}
		if d := time.Since(start); d < time.Second || d > 5*time.Second {
			t.Errorf("202 after %s, want after the 1s wait", d)
		}
		s.proc = s.startProcessor("proc-2")
		// The gateway keeps waiting in the background; the retried POST
		// gets the result once the processor has decided.
		deadline := time.Now().Add(45 * time.Second)
		for {
			r, g = post(tokA, body, "5s")
			if r.status == http.StatusOK {
				break
			}
			if r.status != http.StatusAccepted || time.Now().After(deadline) {
				t.Fatalf("retried POST after the processor restarted: %s, want 202 then 200", r)
			}
		}
		if !g.Accepted || g.EventVersion != 1 {
			t.Errorf("the late command's result: %s, want accepted at version 1", r)
		}
		t.Logf("late command answered %s after its first POST (duplicate=%v)", time.Since(start).Round(100*time.Millisecond), g.Duplicate)
	})

	for outcome, least := range map[string]float64{"accepted": 7, "rejected": 7, "pending": 1, "invalid": 6} {
		if n := srv.metric(t, "prism_gateway_commands_total", "outcome="+outcome); n < least {
			t.Errorf("prism_gateway_commands_total{outcome=%s} = %v, want at least %v", outcome, n, least)
		}
	}
	t.Logf("TestServeGateway: %s", time.Since(started).Round(100*time.Millisecond))
}
