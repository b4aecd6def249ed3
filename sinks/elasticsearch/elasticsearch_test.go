package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/topology"
)

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{URLs: []string{"ftp://x"}, Replicas: -1}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"ftp://x", "namespace", "IndexVersion", "Shards", "Replicas", "GCDeletes", "Timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	cfg := DefaultConfig("http://a:9200, http://b:9200", topology.NewNames("x").Aggregate("payments"))
	if err := cfg.Validate(); err != nil || len(cfg.URLs) != 2 {
		t.Fatalf("default config: %v (urls %v)", err, cfg.URLs)
	}
}

// paymentTarget is a target for Payment's documents (no request is made).
func paymentTarget(t *testing.T) *Target {
	t.Helper()
	tg, err := NewTarget(DefaultConfig("http://127.0.0.1:1", topology.NewNames("x").Aggregate("payments")), payment.ElasticsearchProjection{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func ev(off int64, id string, v int64, typ string, withState bool) sinks.Event {
	env := &schemas.EventEnvelope{EventID: "e", Type: typ, AggregateID: id, Version: v, OrganizationID: "o"}
	if withState {
		env.State = &schemas.Payment{ID: id, OrganizationID: "o", AmountMinor: 1005, Currency: "KWD", Status: schemas.StatusPending,
			CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600)), Version: v}
	}
	return sinks.Event{Offset: off, Key: id, Envelope: env.Record()}
}

func TestOperationsKeepTheLastPerIDWithOffsetVersions(t *testing.T) {
	batch := []sinks.Event{
		ev(0, "a", 1, schemas.TypePaymentCreated, true),
		ev(1, "b", 1, schemas.TypePaymentCreated, true),
		ev(2, "a", 2, schemas.TypePaymentStatusChanged, true),
		ev(3, "b", 2, schemas.TypePaymentDeleted, false),
		{Offset: 4, Key: "b"}, // tombstone after PaymentDeleted
		{Offset: 5, Key: "c"}, // lone tombstone
		noAggregate(ev(6, "d", 1, schemas.TypePaymentUpdated, true)),
	}
	evOps, rejected := paymentTarget(t).eventOps(batch)
	ops := lastPerID(evOps)
	if len(rejected) != 1 || rejected[0].Event.Offset != 6 {
		t.Fatalf("rejected %+v, want the event without aggregate id", rejected)
	}
	if len(ops) != 3 {
		t.Fatalf("%d operations, want 3: %+v", len(ops), ops)
	}
	// External version = offset + 1 for every action; the aggregate
	// version stays in the document.
	if ops[0].id != "a" || ops[0].delete || ops[0].version != 3 || ops[0].aggregate != 2 || ops[0].ev.Offset != 2 {
		t.Errorf("op a = %+v, want index at external version 3 (offset 2), aggregate version 2", ops[0])
	}
	if ops[1].id != "b" || !ops[1].delete || ops[1].version != 5 {
		t.Errorf("op b = %+v, want delete at external version 5 (the tombstone's offset 4)", ops[1])
	}
	if ops[2].id != "c" || !ops[2].delete || ops[2].version != 6 {
		t.Errorf("op c = %+v, want delete at external version 6", ops[2])
	}
	if s := string(ops[0].doc); !strings.Contains(s, `"amount":1.005`) || !strings.Contains(s, `"created_at":"2026-01-02T02:04:05.678Z"`) || !strings.Contains(s, `"version":2`) {
		t.Errorf("document %s: want amount 1.005, created_at in UTC ms, version 2", s)
	}
}

// noAggregate clears the aggregate id of e (a state, but no id to write it
// under).
func noAggregate(e sinks.Event) sinks.Event {
	e.Envelope.AggregateID = ""
	return e
}

// TestDropStaleKeepsNewLives follows a batch from given live documents:
// older versions of a live payment's life are dropped, a re-creation after
// a delete (even with the same created_at) is kept.
func TestDropStaleKeepsNewLives(t *testing.T) {
	life2 := func(off int64, id string, v int64, typ string) sinks.Event {
		e := ev(off, id, v, typ, typ != schemas.TypePaymentDeleted)
		if s, ok := e.Envelope.State.(*schemas.Payment); ok {
			s.CreatedAt = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) // another life
		}
		return e
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600)).UTC().Format(payment.ElasticsearchDateFormat) // as ev builds it
	live := map[string]liveState{
		"stale":    {aggregate: 3, life: created},
		"recreate": {aggregate: 3, life: created},
		"sameday":  {aggregate: 3, life: created},
	}
	batch := []sinks.Event{
		ev(10, "stale", 1, schemas.TypePaymentCreated, true),       // older version of the live life: dropped
		ev(11, "stale", 3, schemas.TypePaymentStatusChanged, true), // same version: dropped
		ev(12, "stale", 4, schemas.TypePaymentStatusChanged, true), // newer: kept
		ev(13, "stale", 2, schemas.TypePaymentUpdated, true),       // older than 4 now: dropped
		life2(14, "recreate", 1, schemas.TypePaymentCreated),       // another created_at: a new life, kept
		ev(15, "sameday", 4, schemas.TypePaymentDeleted, false),
		ev(16, "sameday", 1, schemas.TypePaymentCreated, true), // same created_at, but after a delete: kept
		ev(17, "new", 1, schemas.TypePaymentCreated, true),     // no live document: kept
	}
	tg := paymentTarget(t)
	evOps, _ := tg.eventOps(batch)
	if ids := lookupIDs(batch); fmt.Sprint(ids) != "[stale recreate new]" {
		t.Fatalf("lookup ids %v, want [stale recreate new] (sameday starts with a delete)", ids)
	}
	var kept []int64
	for _, op := range tg.dropStale(evOps, live) {
		kept = append(kept, op.ev.Offset)
	}
	if fmt.Sprint(kept) != "[12 14 15 16 17]" {
		t.Fatalf("kept offsets %v, want [12 14 15 16 17]", kept)
	}
}

func TestBodyIsNDJSONWithExternalVersions(t *testing.T) {
	tg := &Target{index: "i", write: "i"}
	body, err := tg.body([]bulkOp{{id: "a", version: 3, doc: []byte(`{"x":1}`)}, {id: "b", delete: true, version: 2}, {id: "c", delete: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":{"_index":"i","_id":"a","version":3,"version_type":"external"}}
{"x":1}
{"delete":{"_index":"i","_id":"b","version":2,"version_type":"external"}}
{"delete":{"_index":"i","_id":"c"}}
`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
}

// fakeBulk answers _bulk with a canned status and body. It checks the
// classification of answers the real single-node cluster cannot be made to
// give on demand (429, 5xx per item); the guarantees themselves are tested
// against the real Elasticsearch in integration/.
func fakeBulk(t *testing.T, status int, body string) *Target {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/_mget") && status == http.StatusOK {
			w.Write([]byte(`{"docs":[{"_id":"a","found":false},{"_id":"b","found":false}]}`))
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	cfg := DefaultConfig(srv.URL, topology.NewNames("x").Aggregate("payments"))
	tg, err := NewTarget(cfg, payment.ElasticsearchProjection{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func TestBulkOutcomeClassification(t *testing.T) {
	batch := []sinks.Event{ev(0, "a", 1, schemas.TypePaymentCreated, true), ev(1, "b", 1, schemas.TypePaymentCreated, true)}
	cases := []struct {
		name          string
		status        int
		body          string
		wantTransient bool
		wantErr       bool
		wantRejected  []int64
		wantPermanent bool
	}{
		{"ok", 200, `{"errors":false}`, false, false, nil, false},
		{"conflict is a success", 200, `{"errors":true,"items":[{"index":{"status":409,"error":{"type":"version_conflict_engine_exception"}}},{"index":{"status":201}}]}`, false, false, nil, false},
		{"mapping error rejects", 200, `{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":400,"error":{"type":"document_parsing_exception","reason":"bad"}}}]}`, false, false, []int64{1}, false},
		{"item 429 is transient", 200, `{"errors":true,"items":[{"index":{"status":429,"error":{"type":"es_rejected_execution_exception"}}},{"index":{"status":400,"error":{"type":"x"}}}]}`, true, true, nil, false},
		{"item 503 is transient", 200, `{"errors":true,"items":[{"index":{"status":503,"error":{"type":"unavailable_shards_exception"}}},{"index":{"status":201}}]}`, true, true, nil, false},
		{"item 403 is permanent", 200, `{"errors":true,"items":[{"index":{"status":403,"error":{"type":"security_exception"}}},{"index":{"status":201}}]}`, false, true, nil, true},
		{"item 404 is an error, neither transient nor permanent", 200, `{"errors":true,"items":[{"index":{"status":404,"error":{"type":"index_not_found_exception"}}},{"index":{"status":201}}]}`, false, true, nil, false},
		{"request 429 is transient", 429, `{"error":{"type":"circuit_breaking_exception","reason":"data too large"}}`, true, true, nil, false},
		{"request 401 is permanent", 401, `{"error":{"type":"security_exception","reason":"no"}}`, false, true, nil, true},
		{"request 403 is permanent", 403, `{"error":{"type":"security_exception","reason":"action [indices:data/write/bulk] is unauthorized"}}`, false, true, nil, true},
		{"no handler (wrong URL path) is permanent, never a rejection", 400, `{"error":"no handler found for uri [/wrong/_bulk] and method [POST]"}`, false, true, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := fakeBulk(t, c.status, c.body)
			rej, err := tg.Write(context.Background(), "t", batch)
			if (err != nil) != c.wantErr || errors.Is(err, sinks.ErrTransient) != c.wantTransient || errors.Is(err, sinks.ErrPermanent) != c.wantPermanent {
				t.Fatalf("err = %v, want error %v transient %v permanent %v", err, c.wantErr, c.wantTransient, c.wantPermanent)
			}
			var offs []int64
			for _, r := range rej {
				offs = append(offs, r.Event.Offset)
			}
			if len(offs) != len(c.wantRejected) || (len(offs) > 0 && offs[0] != c.wantRejected[0]) {
				t.Fatalf("rejected offsets %v, want %v", offs, c.wantRejected)
			}
		})
	}
}

func TestSetupClassifiesARefusedConfigurationAsPermanent(t *testing.T) {
	for _, c := range []struct {
		name    string
		product string // X-Elastic-Product header
		status  int
		body    string
		want    string
	}{
		{"credentials refused", "Elasticsearch", 401, `{"error":{"type":"security_exception","reason":"unable to authenticate user [u]"}}`, "status 401: security_exception: unable to authenticate user [u]"},
		{"privilege missing", "Elasticsearch", 403, `{"error":{"type":"security_exception","reason":"action [cluster:monitor/nodes/info] is unauthorized"}}`, "status 403"},
		{"URL path not the API", "Elasticsearch", 400, `{"error":"no handler found for uri [/wrong/_nodes/plugins] and method [GET]"}`, "no handler found for uri [/wrong/_nodes/plugins]"},
		{"not Elasticsearch", "", 200, `{}`, "server is not Elasticsearch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.product != "" {
					w.Header().Set("X-Elastic-Product", c.product)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			withCreds := strings.Replace(srv.URL, "http://", "http://u:s3cret-in-url@", 1)
			cfg := DefaultConfig(withCreds, topology.NewNames("x").Aggregate("payments"))
			cfg.Username, cfg.Password = "u", "s3cret-password"
			tg, err := NewTarget(cfg, payment.ElasticsearchProjection{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			err = tg.Setup(context.Background())
			if !errors.Is(err, sinks.ErrPermanent) || errors.Is(err, sinks.ErrTransient) {
				t.Fatalf("Setup = %v, want a permanent error", err)
			}
			for _, want := range []string{c.want, srv.URL} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

// capsDocument records the capabilities its Mapping was given.
type capsDocument struct {
	got *projections.IndexCapabilities
}

func (d capsDocument) Mapping(caps projections.IndexCapabilities) (json.RawMessage, error) {
	*d.got = caps
	return json.RawMessage(`{"n":{"type":"long"}}`), nil
}
func (capsDocument) Render(any) ([]byte, error)   { return []byte(`{"n":1}`), nil }
func (capsDocument) Live() projections.LiveFields { return projections.LiveFields{Version: "n"} }
func (capsDocument) Life(any) string              { return "" }
func (capsDocument) Check(*records.Event) string  { return "" }

// TestSetupTellsTheProjectionTheModulesOfEveryNode: a module counts only
// when every node has it (as a module or a plugin), and the index is
// created with the projection's properties.
func TestSetupTellsTheProjectionTheModulesOfEveryNode(t *testing.T) {
	var created []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/_nodes"):
			w.Write([]byte(`{"nodes":{"a":{"modules":[{"name":"mapper-extras"},{"name":"x-pack-core"}],"plugins":[{"name":"analysis-icu"}]},` +
				`"b":{"modules":[{"name":"x-pack-core"}],"plugins":[{"name":"analysis-icu"}]}}}`))
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/_alias/"): // no alias yet
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"alias [x-things] missing","status":404}`))
		case r.Method == http.MethodPut:
			created, _ = io.ReadAll(r.Body)
			w.Write([]byte(`{"acknowledged":true}`))
		default: // the alias exists
			w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	var caps projections.IndexCapabilities
	tg, err := NewTarget(DefaultConfig(srv.URL, topology.NewNames("x").Aggregate("things")), capsDocument{&caps})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(caps.Modules) != "map[analysis-icu:true x-pack-core:true]" || caps.Has("mapper-extras") {
		t.Errorf("capabilities %v, want the modules and plugins of both nodes only", caps.Modules)
	}
	if !strings.Contains(string(created), `"properties":{"n":{"type":"long"}}`) {
		t.Errorf("index created with %s, want the projection's properties", created)
	}
}

// TestDropStaleWithoutLifeField: a projection without a life field gets
// the stale check on versions alone.
func TestDropStaleWithoutLifeField(t *testing.T) {
	tg, err := NewTarget(DefaultConfig("http://127.0.0.1:1", topology.NewNames("x").Aggregate("things")), capsDocument{new(projections.IndexCapabilities)})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	op := func(off, v int64) bulkOp {
		return bulkOp{id: "a", version: off + 1, aggregate: v, state: 1, ev: sinks.Event{Offset: off}}
	}
	var kept []int64
	for _, o := range tg.dropStale([]bulkOp{op(10, 2), op(11, 3), op(12, 4), op(13, 1)}, map[string]liveState{"a": {aggregate: 3}}) {
		kept = append(kept, o.ev.Offset)
	}
	if fmt.Sprint(kept) != "[12]" {
		t.Fatalf("kept offsets %v, want [12]", kept)
	}
}

// noVersionDocument names no version field.
type noVersionDocument struct{ capsDocument }

func (noVersionDocument) Live() projections.LiveFields { return projections.LiveFields{} }

func TestNewTargetRequiresAProjectionWithAVersionField(t *testing.T) {
	cfg := DefaultConfig("http://127.0.0.1:1", topology.NewNames("x").Aggregate("things"))
	if _, err := NewTarget(cfg, nil); err == nil || !strings.Contains(err.Error(), "no document projection") {
		t.Errorf("NewTarget without a projection: %v", err)
	}
	if _, err := NewTarget(cfg, noVersionDocument{}); err == nil || !strings.Contains(err.Error(), "version field") {
		t.Errorf("NewTarget with a projection naming no version field: %v", err)
	}
}
