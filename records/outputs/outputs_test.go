package outputs

import (
	"reflect"
	"testing"

	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

func headers(o processors.Output) map[string]string {
	m := map[string]string{}
	for _, h := range o.Headers {
		if _, dup := m[h.Key]; dup {
			m[h.Key] = "DUPLICATE"
			continue
		}
		m[h.Key] = string(h.Value)
	}
	return m
}

func eventHeaders(typ, eventID, cmd, corr, caus string) map[string]string {
	return map[string]string{
		records.HeaderType: typ, records.HeaderEventID: eventID, records.HeaderCommandID: cmd,
		records.HeaderCorrelationID: corr, records.HeaderCausationID: caus, records.HeaderSchema: "e1",
	}
}

func TestEventsWithTombstone(t *testing.T) {
	b := NewBuilder("e1", "r1", "Created")
	e := b.Events("agg-1", 2, 40, true, &OneEvent{})
	e.Add("Created", "ev-1", "cmd-1", "corr-1", "cause-1", []byte("v1"))
	e.Add("Removed", "ev-2", "cmd-2", "corr-2", "cause-2", []byte("v2"))
	outs := e.Outputs()
	if len(outs) != 3 {
		t.Fatalf("%d records, want 2 events and a tombstone", len(outs))
	}
	for i, o := range outs {
		if string(o.Key) != "agg-1" {
			t.Errorf("record %d keyed %q", i, o.Key)
		}
	}
	if string(outs[0].Value) != "v1" || string(outs[1].Value) != "v2" || outs[2].Value != nil {
		t.Errorf("values %q, %q, %q", outs[0].Value, outs[1].Value, outs[2].Value)
	}
	if got, want := headers(outs[0]), eventHeaders("Created", "ev-1", "cmd-1", "corr-1", "cause-1"); !reflect.DeepEqual(got, want) {
		t.Errorf("first event headers %v, want %v", got, want)
	}
	if got, want := headers(outs[1]), eventHeaders("Removed", "ev-2", "cmd-2", "corr-2", "cause-2"); !reflect.DeepEqual(got, want) {
		t.Errorf("second event headers %v, want %v", got, want)
	}
	want := map[string]string{records.HeaderCommandID: "cmd-2", records.HeaderCorrelationID: "corr-2", records.HeaderCausationID: "cause-2"}
	if got := headers(outs[2]); !reflect.DeepEqual(got, want) {
		t.Errorf("tombstone headers %v, want %v", got, want)
	}
	// Shared bytes are capped: appending to one value cannot overwrite
	// the next.
	_ = append(outs[0].Headers[2].Value, 'X')
	_ = append(outs[0].Key, 'X')
	if got := headers(outs[0])[records.HeaderCorrelationID]; got != "corr-1" || string(outs[1].Key) != "agg-1" {
		t.Errorf("an append overwrote a shared value: %q, key %q", got, outs[1].Key)
	}
	if len(outs[0].Headers) != cap(outs[0].Headers) {
		t.Error("an event's headers are not capped")
	}
}

func TestOneEventAndResult(t *testing.T) {
	b := NewBuilder("e1", "r1", "Created")
	var one OneEvent
	// An id hint too small: the ids still come out right.
	e := b.Events("agg-1", 1, 0, false, &one)
	e.Add("Created", "ev-1", "cmd-1", "corr-1", "cmd-1", []byte("v1"))
	outs := e.Outputs()
	if len(outs) != 1 || &outs[0] != &one.out[0] {
		t.Fatalf("one event without tombstone is not in the OneEvent: %d records", len(outs))
	}
	if got, want := headers(outs[0]), eventHeaders("Created", "ev-1", "cmd-1", "corr-1", "cmd-1"); !reflect.DeepEqual(got, want) {
		t.Errorf("event headers %v, want %v", got, want)
	}

	var parts ResultParts
	r := b.Result("cmd-1", "corr-1", []byte("res"), &parts, &one)
	wantResult := map[string]string{
		records.HeaderType: records.TypeCommandResult, records.HeaderCommandID: "cmd-1",
		records.HeaderCorrelationID: "corr-1", records.HeaderCausationID: "cmd-1", records.HeaderSchema: "r1",
	}
	if string(r.Key) != "cmd-1" || string(r.Value) != "res" || !reflect.DeepEqual(headers(r), wantResult) {
		t.Errorf("result %q=%q headers %v, want cmd-1=res %v", r.Key, r.Value, headers(r), wantResult)
	}
	if &r.Key[0] != &one.headers[2].Value[0] {
		t.Error("the result does not share the event's command id")
	}

	// Another command's result (no shared event): its own ids.
	r = b.Result("cmd-2", "cmd-2", nil, &ResultParts{}, &one)
	wantResult[records.HeaderCommandID], wantResult[records.HeaderCorrelationID], wantResult[records.HeaderCausationID] = "cmd-2", "cmd-2", "cmd-2"
	if string(r.Key) != "cmd-2" || r.Value != nil || !reflect.DeepEqual(headers(r), wantResult) {
		t.Errorf("result %q headers %v, want %v", r.Key, headers(r), wantResult)
	}
	r = b.Result("cmd-3", "corr-3", nil, &ResultParts{}, nil)
	if got := headers(r); got[records.HeaderCommandID] != "cmd-3" || got[records.HeaderCorrelationID] != "corr-3" || got[records.HeaderCausationID] != "cmd-3" {
		t.Errorf("result headers %v", got)
	}
}

func TestEventsWithoutOneEvent(t *testing.T) {
	b := NewBuilder("e1", "r1")
	e := b.Events("k", 1, 16, false, nil)
	e.Add("Unknown", "ev", "c", "c", "c", nil)
	outs := e.Outputs()
	if len(outs) != 1 || headers(outs[0])[records.HeaderType] != "Unknown" || len(outs[0].Headers) != EventHeaders {
		t.Errorf("records %v", outs)
	}
}
