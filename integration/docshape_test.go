package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// The JSON documents Prism writes for other readers (the Redis payment
// document and invalidation messages, the Elasticsearch _source) have
// exactly the fields the README documents, each of its documented JSON type
// and format: a reader written from the README alone can rely on them. The
// other sink tests decode the documents into structs, which would not
// notice an extra, missing or retyped field.

// jsonKind is the JSON type of a documented field; check (optional)
// validates the value further, given the whole document.
type jsonKind struct {
	kind  string // "string", "integer" or "number"
	check func(v any, doc map[string]any) error
}

var (
	// README: Elasticsearch dates are written as 2026-03-01T12:00:00.000Z.
	esDate = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	// README: Redis times are UTC (RFC 3339, Go's time.Time JSON form).
	rfc3339UTC  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$`)
	isoCurrency = regexp.MustCompile(`^[A-Z]{3}$`)
	statuses    = map[string]bool{"PENDING": true, "AUTHORIZED": true, "CAPTURED": true, "FAILED": true, "CANCELLED": true, "REFUNDED": true}
)

func matches(re *regexp.Regexp) func(any, map[string]any) error {
	return func(v any, _ map[string]any) error {
		if !re.MatchString(v.(string)) {
			return fmt.Errorf("%q does not match %s", v, re)
		}
		return nil
	}
}

func oneOf(set map[string]bool) func(any, map[string]any) error {
	return func(v any, _ map[string]any) error {
		if !set[v.(string)] {
			return fmt.Errorf("%q is not one of the documented values", v)
		}
		return nil
	}
}

// decimalOf checks the amount against the minor units and the currency
// (testDecimal: the test's own digits table).
func decimalOf(minorField string) func(any, map[string]any) error {
	return func(v any, doc map[string]any) error {
		minor, err := doc[minorField].(json.Number).Int64()
		if err != nil {
			return err
		}
		cur, _ := doc["currency"].(string)
		if got, want := fmt.Sprint(v), testDecimal(minor, cur); got != want {
			return fmt.Errorf("%s for %d minor %s, want %s", got, minor, cur, want)
		}
		return nil
	}
}

// checkJSONShape decodes doc and checks its key set and each value.
func checkJSONShape(doc []byte, fields map[string]jsonKind) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var problems []string
	for k := range m {
		if _, ok := fields[k]; !ok {
			problems = append(problems, "undocumented field "+k)
		}
	}
	for k, f := range fields {
		v, ok := m[k]
		if !ok {
			problems = append(problems, "missing field "+k)
			continue
		}
		switch n, isNum := v.(json.Number); f.kind {
		case "string":
			if _, ok := v.(string); !ok {
				problems = append(problems, fmt.Sprintf("%s = %v, want a string", k, v))
				continue
			}
		case "integer":
			if _, err := n.Int64(); !isNum || err != nil {
				problems = append(problems, fmt.Sprintf("%s = %v, want an integer", k, v))
				continue
			}
		case "number":
			if !isNum {
				problems = append(problems, fmt.Sprintf("%s = %v, want a number", k, v))
				continue
			}
		}
		if f.check != nil {
			if err := f.check(v, m); err != nil {
				problems = append(problems, k+": "+err.Error())
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s in %s", strings.Join(problems, "; "), doc)
	}
	return nil
}

// README "Redis": the payment document.
var redisDocShape = map[string]jsonKind{
	"version": {kind: "integer"}, "id": {kind: "string"}, "organizationId": {kind: "string"}, "userId": {kind: "string"},
	"amountMinor": {kind: "integer"}, "amount": {kind: "string", check: decimalOf("amountMinor")},
	"currency": {kind: "string", check: matches(isoCurrency)}, "description": {kind: "string"},
	"status":    {kind: "string", check: oneOf(statuses)},
	"createdAt": {kind: "string", check: matches(rfc3339UTC)}, "updatedAt": {kind: "string", check: matches(rfc3339UTC)},
}

// README "Redis": one change of an invalidation message.
var redisInvalidationShape = map[string]jsonKind{
	"organizationId": {kind: "string"}, "paymentId": {kind: "string"}, "version": {kind: "integer"},
}

// README "Elasticsearch": the document _source.
var esDocShape = map[string]jsonKind{
	"id": {kind: "string"}, "organization_id": {kind: "string"}, "user_id": {kind: "string"},
	"amount_minor": {kind: "integer"}, "amount": {kind: "number", check: decimalOf("amount_minor")},
	"currency": {kind: "string", check: matches(isoCurrency)}, "description": {kind: "string"},
	"status":     {kind: "string", check: oneOf(statuses)},
	"created_at": {kind: "string", check: matches(esDate)}, "updated_at": {kind: "string", check: matches(esDate)},
	"version": {kind: "integer"},
}

func TestJSONDocumentsHaveTheDocumentedShape(t *testing.T) {
	// The shape checker itself tells the documented shape from others.
	good := `{"version":4,"id":"p","organizationId":"o","userId":"u","amountMinor":81767,"amount":"817.67","currency":"GBP","description":"d","status":"REFUNDED","createdAt":"2026-11-26T19:57:03.413Z","updatedAt":"2026-11-26T19:57:03Z"}`
	if err := checkJSONShape([]byte(good), redisDocShape); err != nil {
		t.Fatalf("the README's example fails the check: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(good, `"amount":"817.67"`, `"amount":817.67`, 1),
		strings.Replace(good, `"amount":"817.67"`, `"amount":"817.7"`, 1),
		strings.Replace(good, `"version":4,`, ``, 1),
		strings.Replace(good, `"version":4,`, `"version":4,"extra":1,`, 1),
		strings.Replace(good, `03.413Z`, `03.413+01:00`, 1),
		strings.Replace(good, `REFUNDED`, `refunded`, 1),
	} {
		if checkJSONShape([]byte(bad), redisDocShape) == nil {
			t.Fatalf("the check accepts %s", bad)
		}
	}

	e := newSinkEnv(t, 3)
	ctx := testkit.Context(t, 5*time.Minute)
	es, rs := esAndRedisStores(t, e)
	sub := rs.client.Subscribe(ctx, rs.keys.InvalidateChannel())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is confirmed
		t.Fatal(err)
	}
	msgs := sub.Channel()

	cmds, x := generateSinkCommands(600, 23, e.ns)
	want := x.live()
	proc, red, ela := runRedisAndES(t, ctx, e, es, rs, cmds, want, 3*time.Minute)

	// Redis: every payment document, as stored.
	var problems []string
	for id := range want {
		raw, err := rs.client.Get(ctx, rs.keys.Doc(id)).Bytes()
		if err != nil {
			t.Fatalf("GET %s: %v", rs.keys.Doc(id), err)
		}
		if err := checkJSONShape(raw, redisDocShape); err != nil {
			problems = append(problems, "redis "+id+": "+err.Error())
		}
	}
	// Redis: the invalidation messages published so far.
	changes := 0
	for drained := false; !drained; {
		select {
		case m := <-msgs:
			var arr []json.RawMessage
			if err := json.Unmarshal([]byte(m.Payload), &arr); err != nil || len(arr) == 0 {
				problems = append(problems, fmt.Sprintf("invalidation message %q is not a non-empty JSON array (%v)", m.Payload, err))
				continue
			}
			for _, c := range arr {
				changes++
				if err := checkJSONShape(c, redisInvalidationShape); err != nil {
					problems = append(problems, "invalidation: "+err.Error())
				}
			}
		case <-time.After(2 * time.Second):
			drained = true
		}
	}
	if changes == 0 {
		problems = append(problems, "no invalidation message received")
	}

	// Elasticsearch: every _source, through the alias.
	alias := e.names.ElasticsearchAlias()
	if st, err := es.call(ctx, http.MethodPost, "/"+alias+"/_refresh", nil, nil); err != nil || st != http.StatusOK {
		t.Fatalf("refresh: %d %v", st, err)
	}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	q := map[string]any{"size": 10000, "query": map[string]any{"match_all": map[string]any{}}}
	if st, err := es.call(ctx, http.MethodPost, "/"+alias+"/_search", q, &res); err != nil || st != http.StatusOK {
		t.Fatalf("search: %d %v", st, err)
	}
	if len(res.Hits.Hits) != len(want) {
		problems = append(problems, fmt.Sprintf("elasticsearch holds %d documents, want %d", len(res.Hits.Hits), len(want)))
	}
	for _, h := range res.Hits.Hits {
		if err := checkJSONShape(h.Source, esDocShape); err != nil {
			problems = append(problems, "elasticsearch "+h.ID+": "+err.Error())
		}
	}
	t.Logf("checked %d Redis documents, %d invalidation changes, %d Elasticsearch documents", len(want), changes, len(res.Hits.Hits))
	if len(problems) > 0 {
		t.Errorf("documents differ from the README's shapes:\n%s", strings.Join(problems[:min(len(problems), 15)], "\n"))
	}
	red.stop(t)
	ela.stop(t)
	proc.stop(t)
}
