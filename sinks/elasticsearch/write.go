package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/prism-cqrs/prism/schemas"
	"github.com/prism-cqrs/prism/sinks"
)

// bulkOp is one action of a _bulk request.
type bulkOp struct {
	ev      sinks.Event
	delete  bool
	id      string
	version int64 // external version; 0 = none (tombstone delete)
	doc     []byte
}

// Write sends the batch as one _bulk request (refresh=false) to the
// concrete index. Within a batch only the last operation per payment id is
// sent (every event carries the full state, and versions grow with
// offsets), except that a tombstone never replaces the versioned delete of
// the PaymentDeleted before it.
//
// Outcomes per item: created/updated/deleted, a 409 version conflict (the
// index already holds this or a newer version: a replay) and a 404 on
// delete (already gone) are successes; a 400 (mapper_parsing_exception,
// document_parsing_exception, illegal_argument_exception, ...) rejects the
// event for good; a 429 or 5xx fails the batch with an error wrapping
// sinks.ErrTransient, as does Elasticsearch being unreachable. A whole
// request refused with 400 is resent one operation at a time to find the
// offending events. Retrying a failed batch is safe: what was applied is a
// version conflict the second time.
func (t *Target) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	ops, rejected := t.operations(batch)
	if len(ops) == 0 {
		return rejected, nil
	}
	more, err := t.bulk(ctx, ops)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: bulk of %d operations for %d events from %s into %s: %w", len(ops), len(batch), topic, t.index, err)
	}
	return append(rejected, more...), nil
}

// operations maps the batch to bulk operations, last one per id.
func (t *Target) operations(batch []sinks.Event) ([]bulkOp, []sinks.Rejected) {
	var (
		ops      = make([]bulkOp, 0, len(batch))
		byID     = make(map[string]int, len(batch))
		rejected []sinks.Rejected
	)
	for _, ev := range batch {
		op, reason := operation(ev)
		if reason != "" {
			rejected = append(rejected, sinks.Rejected{Event: ev, Reason: reason})
			continue
		}
		i, seen := byID[op.id]
		switch {
		case !seen:
			byID[op.id] = len(ops)
			ops = append(ops, op)
		case op.delete && op.version == 0 && ops[i].delete && ops[i].version > 0:
			// keep the versioned delete of PaymentDeleted
		default:
			ops[i] = op
		}
	}
	return ops, rejected
}

// operation maps one event to its bulk operation, or says why the target
// rejects it.
func operation(ev sinks.Event) (bulkOp, string) {
	env := ev.Envelope
	switch {
	case env == nil:
		if ev.Key == "" {
			return bulkOp{}, "tombstone without a key"
		}
		return bulkOp{ev: ev, delete: true, id: ev.Key}, ""
	case env.Type == schemas.TypePaymentDeleted:
		if env.AggregateID == "" || env.Version < 1 {
			return bulkOp{}, fmt.Sprintf("PaymentDeleted event %s without aggregate id or version", env.EventID)
		}
		return bulkOp{ev: ev, delete: true, id: env.AggregateID, version: env.Version}, ""
	case env.State == nil:
		return bulkOp{}, fmt.Sprintf("%s event %s carries no state", env.Type, env.EventID)
	}
	doc, err := NewDocument(env.State)
	if err != nil {
		return bulkOp{}, fmt.Sprintf("%s event %s: %v", env.Type, env.EventID, err)
	}
	if doc.Version < 1 {
		return bulkOp{}, fmt.Sprintf("%s event %s: state version %d, want at least 1", env.Type, env.EventID, doc.Version)
	}
	if env.AggregateID != "" && env.AggregateID != doc.ID {
		return bulkOp{}, fmt.Sprintf("%s event %s: state id %q differs from aggregate id %q", env.Type, env.EventID, doc.ID, env.AggregateID)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return bulkOp{}, fmt.Sprintf("%s event %s: encode document: %v", env.Type, env.EventID, err)
	}
	return bulkOp{ev: ev, id: doc.ID, version: doc.Version, doc: b}, ""
}

type actionMeta struct {
	Index       string `json:"_index"`
	ID          string `json:"_id"`
	Version     int64  `json:"version,omitempty"`
	VersionType string `json:"version_type,omitempty"`
}

// body renders ops as the NDJSON of a _bulk request.
func (t *Target) body(ops []bulkOp) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // Encode ends every line with '\n'
	for _, op := range ops {
		meta := actionMeta{Index: t.index, ID: op.id}
		if op.version > 0 {
			meta.Version, meta.VersionType = op.version, "external"
		}
		action := map[bool]string{true: "delete", false: "index"}[op.delete]
		if err := enc.Encode(map[string]actionMeta{action: meta}); err != nil {
			return nil, err
		}
		if !op.delete {
			buf.Write(op.doc)
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes(), nil
}

type bulkItem struct {
	Status int        `json:"status"`
	Error  *itemError `json:"error"`
}

type bulkResponse struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

// bulk sends ops and classifies the outcome of every item.
func (t *Target) bulk(ctx context.Context, ops []bulkOp) ([]sinks.Rejected, error) {
	body, err := t.body(ops)
	if err != nil {
		return nil, fmt.Errorf("encode bulk body: %w", err)
	}
	status, resp, err := t.do(ctx, esapi.BulkRequest{
		Body:       bytes.NewReader(body),
		Refresh:    "false",
		FilterPath: []string{"errors", "items.*.status", "items.*.error"},
	})
	if err != nil {
		return nil, err
	}
	if status == http.StatusBadRequest && len(ops) > 1 {
		return t.bulkOneByOne(ctx, ops)
	}
	if status == http.StatusBadRequest {
		return []sinks.Rejected{{Event: ops[0].ev, Reason: "elasticsearch refused the request: " + reasonOf(resp)}}, nil
	}
	if status != http.StatusOK {
		return nil, statusError("bulk", status, resp)
	}
	var br bulkResponse
	if err := json.Unmarshal(resp, &br); err != nil {
		return nil, fmt.Errorf("decode bulk response: %w", err)
	}
	if !br.Errors {
		return nil, nil
	}
	if len(br.Items) != len(ops) {
		return nil, fmt.Errorf("bulk response has %d items for %d operations", len(br.Items), len(ops))
	}
	var (
		rejected  []sinks.Rejected
		transient []error
		failed    []error
	)
	for i, item := range br.Items {
		for action, it := range item {
			switch {
			case it.Status >= 200 && it.Status < 300,
				it.Status == http.StatusConflict,
				it.Status == http.StatusNotFound && action == "delete":
			case transientStatus(it.Status):
				transient = append(transient, fmt.Errorf("%s %s: status %d: %s", action, ops[i].id, it.Status, it.Error))
			case it.Status == http.StatusBadRequest:
				rejected = append(rejected, sinks.Rejected{Event: ops[i].ev, Reason: "elasticsearch refused the document: " + it.Error.String()})
			default:
				failed = append(failed, fmt.Errorf("%s %s: status %d: %s", action, ops[i].id, it.Status, it.Error))
			}
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%d bulk items failed: %w", len(failed)+len(transient), errors.Join(append(failed, transient...)...))
	}
	if len(transient) > 0 {
		return nil, fmt.Errorf("%w: %d bulk items failed: %w", sinks.ErrTransient, len(transient), errors.Join(transient...))
	}
	return rejected, nil
}

// bulkOneByOne resends each operation alone after the whole request was
// refused, so only the offending events are rejected.
func (t *Target) bulkOneByOne(ctx context.Context, ops []bulkOp) ([]sinks.Rejected, error) {
	t.log.Warn("bulk request refused as a whole; resending one operation at a time", "operations", len(ops))
	var rejected []sinks.Rejected
	for i := range ops {
		r, err := t.bulk(ctx, ops[i:i+1])
		if err != nil {
			return nil, err
		}
		rejected = append(rejected, r...)
	}
	return rejected, nil
}

func reasonOf(body []byte) string {
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		return eb.Error.String()
	}
	return string(body)
}
