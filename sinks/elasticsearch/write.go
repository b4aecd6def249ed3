package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/prism-cqrs/prism/sinks"
)

// bulkOp is one action of a _bulk request.
type bulkOp struct {
	ev     sinks.Event
	delete bool
	id     string
	// version is the external version: the event's offset + 1 (0 = none,
	// only in hand-built test bodies).
	version int64
	// aggregate and state are the aggregate version and state an index
	// action carries, for the stale check (the state's life is asked of the
	// projection only when a live document is compared).
	aggregate int64
	state     any
	doc       []byte
}

// Write sends the batch as one _bulk request (refresh=false) to what the
// target writes (Writes: the alias for the live sink, so that it follows a
// side-by-side rebuild's switch at its next batch; the index for a Direct
// target), after one _mget of the live documents it touches from the same.
// Through the alias the bulk requires it (require_alias): if the alias has
// no index any more (deleted by hand), Write sets the target up again (as
// Setup) and resends the batch once.
//
// An event the projection refuses (Check, projections.Document.Check) is
// rejected; the runtime usually took it out of the batch already (the
// target is a sinks.Checker). An event with a state is indexed (the
// document the projection renders, _id = its aggregate id); one without a
// state that the projection accepts (the aggregate removed) and a
// tombstone delete the document. The external version of every action
// is the event's offset + 1: every event of an aggregate is in one
// partition and the processor emits each event once, so offset order is
// the true order of an aggregate's events, across a delete and a
// re-creation of the same id (whose new life restarts at aggregate version
// 1). Elasticsearch refuses (409, a success here) any action at an offset
// already applied: a replay, or a zombie instance still writing after a
// rebalance. The aggregate version stays in the document (the projection's
// version field).
//
// Before the bulk, the live documents of the batch's ids are read (_mget,
// the projection's version and life fields only) and an event whose state
// has the life of the live document and a version not above it is dropped:
// an older version of a live aggregate re-sent at a new offset changes
// nothing. A delete earlier in the batch clears the live document, so a
// re-creation (new life, or the same after a delete) is always written.
//
// Within a batch only the last operation per aggregate id is sent (every
// event carries the full state). Outcomes per item: created/updated/
// deleted, a 409 version conflict and a 404 on delete (already gone) are
// successes; a 400 (mapper_parsing_exception, document_parsing_exception,
// illegal_argument_exception, ...) rejects the event for good; a 429 or 5xx
// fails the batch with an error wrapping sinks.ErrTransient, as does
// Elasticsearch being unreachable (for the _mget too). A whole request
// refused with 400 is resent one operation at a time to find the offending
// events. Retrying a failed batch is safe: what was applied is a version
// conflict the second time.
func (t *Target) Write(ctx context.Context, topic string, batch []sinks.Event) ([]sinks.Rejected, error) {
	// The _mget runs while the documents are encoded.
	type lookup struct {
		live map[string]liveState
		err  error
	}
	looked := make(chan lookup, 1)
	go func() {
		live, err := t.liveDocs(ctx, lookupIDs(batch))
		looked <- lookup{live, err}
	}()
	evOps, rejected := t.eventOps(batch)
	l := <-looked
	if l.err != nil {
		return nil, fmt.Errorf("elasticsearch: read live documents of %d events from %s in %s: %w", len(batch), topic, t.write, l.err)
	}
	live := l.live
	ops := lastPerID(t.dropStale(evOps, live))
	if len(ops) == 0 {
		return rejected, nil
	}
	more, err := t.bulk(ctx, ops)
	if errors.Is(err, errNoAlias) {
		// The alias's index was deleted while the sink ran: set up again
		// (the configured version's index, with the alias) and resend.
		t.log.Warn("the alias has no index (deleted?): setting it up again", "alias", t.alias, "index", t.index)
		if err = t.setup(ctx); err == nil {
			more, err = t.bulk(ctx, ops)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: bulk of %d operations for %d events from %s into %s: %w", len(ops), len(batch), topic, t.write, err)
	}
	return append(rejected, more...), nil
}

// Check implements sinks.Checker: the events Write rejects whatever the
// index holds, known from the event alone. A tombstone needs a key; an
// event needs an aggregate id and the projection's approval
// (projections.Document.Check), and one with a state a version of at least
// 1. Only what Render refuses (and a document Elasticsearch refuses) is
// left to Write.
func (t *Target) Check(ev sinks.Event) string {
	env := ev.Envelope
	switch {
	case env == nil:
		if ev.Key == "" {
			return "tombstone without a key"
		}
		return ""
	case env.AggregateID == "":
		return fmt.Sprintf("%s event %s without aggregate id", env.Type, env.EventID)
	}
	if reason := t.doc.Check(env); reason != "" {
		return fmt.Sprintf("%s event %s: %s", env.Type, env.EventID, reason)
	}
	if env.State != nil && env.Version < 1 {
		return fmt.Sprintf("%s event %s: version %d, want at least 1", env.Type, env.EventID, env.Version)
	}
	return ""
}

// eventOps maps every event of the batch to its operation, in batch order.
func (t *Target) eventOps(batch []sinks.Event) ([]bulkOp, []sinks.Rejected) {
	var (
		ops      = make([]bulkOp, 0, len(batch))
		rejected []sinks.Rejected
	)
	for _, ev := range batch {
		op, reason := t.operation(ev)
		if reason != "" {
			rejected = append(rejected, sinks.Rejected{Event: ev, Reason: reason})
			continue
		}
		ops = append(ops, op)
	}
	return ops, rejected
}

// lastPerID keeps the last operation of each id (in batch order, which is
// offset order per partition, and every event of an id is in one
// partition), at the position of the id's first operation.
func lastPerID(ops []bulkOp) []bulkOp {
	out := make([]bulkOp, 0, len(ops))
	byID := make(map[string]int, len(ops))
	for _, op := range ops {
		if i, seen := byID[op.id]; seen {
			out[i] = op
			continue
		}
		byID[op.id] = len(out)
		out = append(out, op)
	}
	return out
}

// lookupIDs returns the ids whose live document matters: those whose first
// event in the batch carries a state (an id that starts with a delete has
// no live document for the rest of the batch to compare with). It reads
// the events directly, so the lookup can start before they are encoded.
func lookupIDs(batch []sinks.Event) []string {
	first := make(map[string]bool, len(batch))
	var ids []string
	for _, ev := range batch {
		id, state := ev.Key, false
		if env := ev.Envelope; env != nil {
			id, state = env.AggregateID, env.State != nil
		}
		if id == "" || first[id] {
			continue
		}
		first[id] = true
		if state {
			ids = append(ids, id)
		}
	}
	return ids
}

// liveState is what the stale check needs of a live document: its
// aggregate version and its life, read from Elasticsearch (life) or
// carried by an earlier operation of the batch (state).
type liveState struct {
	aggregate int64
	life      string
	state     any
}

// dropStale follows the batch in order from the live documents and drops
// each state older than, or equal to, the live one of the same life; a
// delete ends the life.
func (t *Target) dropStale(ops []bulkOp, live map[string]liveState) []bulkOp {
	out := ops[:0:0]
	for _, op := range ops {
		if op.delete {
			delete(live, op.id)
			out = append(out, op)
			continue
		}
		if cur, ok := live[op.id]; ok && op.aggregate <= cur.aggregate && t.sameLife(cur, op.state) {
			continue
		}
		if live != nil {
			live[op.id] = liveState{aggregate: op.aggregate, state: op.state}
		}
		out = append(out, op)
	}
	return out
}

// sameLife reports whether state belongs to the life of the live document
// cur (always, when the projection names no life field).
func (t *Target) sameLife(cur liveState, state any) bool {
	if t.live.Life == "" {
		return true
	}
	life := cur.life
	if cur.state != nil {
		life = t.doc.Life(cur.state)
	}
	return life == t.doc.Life(state)
}

// liveDocs reads the version and life fields of the live documents of ids
// from what the target writes (realtime _mget: no refresh needed): the
// alias, or the index of a Direct target (during a side-by-side rebuild the
// alias still points at the old index). A missing index has no live
// documents.
func (t *Target) liveDocs(ctx context.Context, ids []string) (map[string]liveState, error) {
	live := make(map[string]liveState, len(ids))
	if len(ids) == 0 {
		return live, nil
	}
	body, err := json.Marshal(map[string][]string{"ids": ids})
	if err != nil {
		return nil, fmt.Errorf("encode _mget body: %w", err)
	}
	fields := []string{t.live.Version}
	if t.live.Life != "" {
		fields = append(fields, t.live.Life)
	}
	status, resp, err := t.do(ctx, esapi.MgetRequest{
		Index:          t.write,
		Body:           bytes.NewReader(body),
		SourceIncludes: fields,
		FilterPath:     []string{"docs._id", "docs.found", "docs._source"},
	})
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound && errorType(resp) == "index_not_found_exception" {
		return live, nil
	}
	if status != http.StatusOK {
		return nil, statusError("_mget", status, resp)
	}
	var mr struct {
		Docs []struct {
			ID     string                     `json:"_id"`
			Found  bool                       `json:"found"`
			Source map[string]json.RawMessage `json:"_source"`
		} `json:"docs"`
	}
	if err := json.Unmarshal(resp, &mr); err != nil {
		return nil, fmt.Errorf("decode _mget response: %w", err)
	}
	for _, d := range mr.Docs {
		if !d.Found {
			continue
		}
		var s liveState
		if err := json.Unmarshal(d.Source[t.live.Version], &s.aggregate); err != nil {
			return nil, fmt.Errorf("live document %s: version field %q: %w", d.ID, t.live.Version, err)
		}
		if raw, ok := d.Source[t.live.Life]; ok && t.live.Life != "" {
			if err := json.Unmarshal(raw, &s.life); err != nil {
				return nil, fmt.Errorf("live document %s: life field %q: %w", d.ID, t.live.Life, err)
			}
		}
		live[d.ID] = s
	}
	return live, nil
}

// operation maps one event to its bulk operation, or says why the target
// rejects it. The external version is the event's offset + 1.
func (t *Target) operation(ev sinks.Event) (bulkOp, string) {
	if reason := t.Check(ev); reason != "" {
		return bulkOp{}, reason
	}
	env := ev.Envelope
	ext := ev.Offset + 1
	switch {
	case env == nil:
		return bulkOp{ev: ev, delete: true, id: ev.Key, version: ext}, ""
	case env.State == nil:
		return bulkOp{ev: ev, delete: true, id: env.AggregateID, version: ext, aggregate: env.Version}, ""
	}
	doc, err := t.doc.Render(env.State)
	if err != nil {
		return bulkOp{}, fmt.Sprintf("%s event %s: %v", env.Type, env.EventID, err)
	}
	if bytes.IndexByte(doc, '\n') >= 0 {
		return bulkOp{}, fmt.Sprintf("%s event %s: the rendered document spans several lines", env.Type, env.EventID)
	}
	return bulkOp{ev: ev, id: env.AggregateID, version: ext, aggregate: env.Version, state: env.State, doc: doc}, ""
}

// body renders ops as the NDJSON of a _bulk request.
func (t *Target) body(ops []bulkOp) ([]byte, error) {
	index, err := json.Marshal(t.write)
	if err != nil {
		return nil, err
	}
	size := 0
	for _, op := range ops {
		size += 96 + len(index) + len(op.id) + len(op.doc)
	}
	buf := make([]byte, 0, size)
	for _, op := range ops {
		if op.delete {
			buf = append(buf, `{"delete":{"_index":`...)
		} else {
			buf = append(buf, `{"index":{"_index":`...)
		}
		buf = append(buf, index...)
		id, err := json.Marshal(op.id)
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, `,"_id":`...), id...)
		if op.version > 0 {
			buf = append(strconv.AppendInt(append(buf, `,"version":`...), op.version, 10), `,"version_type":"external"`...)
		}
		buf = append(buf, "}}\n"...)
		if !op.delete {
			buf = append(append(buf, op.doc...), '\n')
		}
	}
	return buf, nil
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
	// Through the alias, require it: a missing alias would otherwise be
	// auto-created as an index of that name with a dynamic mapping.
	viaAlias := t.write == t.alias
	status, resp, err := t.do(ctx, esapi.BulkRequest{
		Body:         bytes.NewReader(body),
		Refresh:      "false",
		RequireAlias: &viaAlias,
		FilterPath:   []string{"errors", "items.*.status", "items.*.error"},
	})
	if err != nil {
		return nil, err
	}
	if status == http.StatusBadRequest && permanentStatus(status, reasonOf(resp)) {
		// Not about the documents: the URL does not lead to the bulk API.
		return nil, statusError("bulk", status, resp)
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
		refused   bool // an item failed for want of credentials or privileges
		noAlias   bool // the alias written has no index
	)
	for i, item := range br.Items {
		for action, it := range item {
			switch {
			case viaAlias && it.Status == http.StatusNotFound && it.Error != nil && it.Error.Type == "index_not_found_exception":
				noAlias = true
				failed = append(failed, fmt.Errorf("%s %s: status %d: %s", action, ops[i].id, it.Status, it.Error))
			case it.Status >= 200 && it.Status < 300,
				it.Status == http.StatusConflict,
				it.Status == http.StatusNotFound && action == "delete":
			case transientStatus(it.Status):
				transient = append(transient, fmt.Errorf("%s %s: status %d: %s", action, ops[i].id, it.Status, it.Error))
			case it.Status == http.StatusBadRequest:
				rejected = append(rejected, sinks.Rejected{Event: ops[i].ev, Reason: "elasticsearch refused the document: " + it.Error.String()})
			default:
				refused = refused || permanentStatus(it.Status, "")
				failed = append(failed, fmt.Errorf("%s %s: status %d: %s", action, ops[i].id, it.Status, it.Error))
			}
		}
	}
	if noAlias {
		return nil, fmt.Errorf("%w: %d bulk items failed: %w", errNoAlias, len(failed)+len(transient), errors.Join(append(failed, transient...)...))
	}
	if len(failed) > 0 && refused {
		return nil, fmt.Errorf("%w: %d bulk items failed: %w", sinks.ErrPermanent, len(failed)+len(transient), errors.Join(append(failed, transient...)...))
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%d bulk items failed: %w", len(failed)+len(transient), errors.Join(append(failed, transient...)...))
	}
	if len(transient) > 0 {
		return nil, fmt.Errorf("%w: %d bulk items failed: %w", sinks.ErrTransient, len(transient), errors.Join(transient...))
	}
	return rejected, nil
}

// errNoAlias is wrapped by bulk when the alias written does not exist.
var errNoAlias = errors.New("the alias has no index")

// bulkOneByOne resends each operation alone after the whole request was
// refused, so only the offending events are rejected.
func (t *Target) bulkOneByOne(ctx context.Context, ops []bulkOp) ([]sinks.Rejected, error) {
	t.log.Warn("bulk request refused as a whole; resending one operation at a time", "index", t.write, "operations", len(ops))
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
