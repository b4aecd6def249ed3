package httpapi_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/queries/httpapi"
)

func TestCommandsGoToTheGateway(t *testing.T) {
	e := newEnv(t, nil)
	cmd := []byte(`{"type":"CreatePayment","commandId":"c-1","paymentId":"p-9","organizationId":"org-a","userId":"u-1","amount":"1.00","currency":"EUR"}`)
	for _, tc := range []struct {
		status int
		answer string
	}{
		{200, `{"commandId":"c-1","aggregate":"payments","aggregateId":"p-9","accepted":true,"duplicate":false,"eventVersion":1,"correlationId":"c-1","consistencyToken":"ZGVtby5wYXltZW50cy5ldmVudHM6MDo0Mg"}`},
		{202, `{"commandId":"c-1","status":"pending"}`},
		{422, `{"commandId":"c-1","aggregate":"payments","aggregateId":"p-9","accepted":false,"reason":"NOT_FOUND","message":"payment p-9 does not exist","eventVersion":0,"correlationId":"c-1"}`},
		{400, `{"error":"line 1: field amount: not a decimal","parameter":"body"}`},
		{403, `{"error":"organization not in your scope"}`},
		{409, `{"error":"commandId already used for a different command"}`},
	} {
		e.gateway.set(tc.status, tc.answer, nil)
		r := e.do(t, http.MethodPost, "/v1/commands", tokenAB, cmd)
		if r.status != tc.status || string(r.body) != tc.answer || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("gateway answered %d %s; the client got %d %s (%s)", tc.status, tc.answer, r.status, r.body, r.header.Get("Content-Type"))
		}
		c := e.gateway.lastCall(t)
		if !bytes.Equal(c.body, cmd) || c.wait != httpapi.DefaultWait || c.scope.All() || len(c.scope.Orgs()) != 2 {
			t.Errorf("gateway called with body %s, wait %s, scope %v", c.body, c.wait, c.scope.Orgs())
		}
	}

	e.gateway.set(202, `{"commandId":"c-1","status":"pending"}`, nil)
	if r := e.do(t, http.MethodPost, "/v1/commands?wait=250ms", tokenOps, cmd); r.status != 202 {
		t.Errorf("wait=250ms: %d %s", r.status, r.body)
	} else if c := e.gateway.lastCall(t); c.wait != 250*time.Millisecond || !c.scope.All() {
		t.Errorf("wait %s, all organizations %v", c.wait, c.scope.All())
	}

	calls := len(e.gateway.calls)
	for _, tc := range []struct{ target, param string }{
		{"/v1/commands?wait=31s", "wait"},
		{"/v1/commands?wait=soon", "wait"},
		{"/v1/commands?wait=0s", "wait"},
		{"/v1/commands?wait=1s&wait=2s", "wait"},
		{"/v1/commands?dryRun=true", "dryRun"},
	} {
		r := e.do(t, http.MethodPost, tc.target, tokenA, cmd)
		if r.status != 400 || errorOf(t, r)["parameter"] != tc.param {
			t.Errorf("POST %s = %d %s, want 400 naming %s", tc.target, r.status, r.body, tc.param)
		}
	}
	big := bytes.Repeat([]byte("x"), httpapi.MaxCommandBytes+1)
	if r := e.do(t, http.MethodPost, "/v1/commands", tokenA, big); r.status != http.StatusRequestEntityTooLarge || errorOf(t, r)["parameter"] != "body" {
		t.Errorf("a body above 1 MiB: %d %s, want 413", r.status, r.body)
	}
	if len(e.gateway.calls) != calls {
		t.Errorf("bad requests reached the gateway")
	}

	e.gateway.set(0, "", errors.New("kafka seed broker-3.internal:9092 unreachable"))
	r := e.do(t, http.MethodPost, "/v1/commands", tokenA, cmd)
	if r.status != 503 || contains(string(r.body), "broker-3") {
		t.Errorf("gateway failure: %d %s, want 503 without its details", r.status, r.body)
	}
	if !contains(e.log.String(), "broker-3.internal") {
		t.Errorf("the gateway failure is not logged")
	}
}

func TestCommandsWithoutGatewayAreNotFound(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.Gateway = nil })
	if r := e.do(t, http.MethodPost, "/v1/commands", tokenA, []byte(`{}`)); r.status != 404 {
		t.Errorf("POST /v1/commands without gateway = %d %s, want 404", r.status, r.body)
	}
}
