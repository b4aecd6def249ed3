// Package outputs builds the records an aggregate hands back to the
// processor engine (processors.Output) with the standard headers
// (docs/schemas.md): each event keyed by the aggregate id with prism-type,
// prism-event-id, prism-command-id, prism-correlation-id, prism-causation-id
// and prism-schema; the tombstone that follows an event removing the
// aggregate, with the command, correlation and causation ids; and the
// command result keyed by command id, of type records.TypeCommandResult.
//
// It lives apart from package records because it needs the engine's types
// (the engine imports records). The builders keep the processor's hot path
// lean: the keys and header values of a command's records share one
// read-only buffer, the usual accepted command (one event, no tombstone)
// has its output and headers in caller-provided storage (OneEvent), and
// read-only header values (types, fingerprints) are shared by every record.
package outputs

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

// Header counts of each record kind.
const (
	EventHeaders     = 6
	TombstoneHeaders = 3
	ResultHeaders    = 5
)

// Builder holds the read-only header values an aggregate's records share.
// It is never modified once built and is safe for concurrent use.
type Builder struct {
	eventFP, resultFP []byte
	typeHeaders       map[string][]byte
	resultType        []byte
}

// NewBuilder returns a builder for an aggregate whose event and result
// writer schemas have the hex fingerprints eventFP and resultFP (the
// prism-schema header). eventTypes are the aggregate's event types: their
// prism-type values are allocated once here, any other type per record.
func NewBuilder(eventFP, resultFP string, eventTypes ...string) *Builder {
	b := &Builder{
		eventFP:     []byte(eventFP),
		resultFP:    []byte(resultFP),
		typeHeaders: make(map[string][]byte, len(eventTypes)),
		resultType:  []byte(records.TypeCommandResult),
	}
	for _, t := range eventTypes {
		b.typeHeaders[t] = []byte(t)
	}
	return b
}

// typeHeader is the prism-type header value of an event type: one shared
// read-only slice per known type.
func (b *Builder) typeHeader(t string) []byte {
	if v, ok := b.typeHeaders[t]; ok {
		return v
	}
	return []byte(t)
}

// OneEvent backs the outputs of a command with one event and no tombstone
// (the usual accepted command), so that the caller can allocate them
// together with the rest of the command's records.
type OneEvent struct {
	out     [1]processors.Output
	headers [EventHeaders]kgo.RecordHeader
}

// Events builds the event records of one command; start with
// Builder.Events, call Add per event in order, then Outputs.
type Events struct {
	b         *Builder
	buf       byteSlicer
	key       []byte
	hs        []kgo.RecordHeader
	outs      []processors.Output
	tombstone bool
	// the last event's ids, in buf, for the tombstone
	cmdID, corrID, causID []byte
}

// Events starts the records of n events keyed by key, followed by a
// tombstone for key when tombstone. idBytes is the total length of the
// events' ids (event, command, correlation and causation ids), so that they
// and the key share one buffer. one, when not nil and the records are one
// event and no tombstone, is where the output and its headers go.
func (b *Builder) Events(key string, n, idBytes int, tombstone bool, one *OneEvent) Events {
	e := Events{b: b, buf: byteSlicer{buf: make([]byte, 0, len(key)+idBytes)}, tombstone: tombstone}
	e.key = e.buf.add(key)
	if one != nil && n == 1 && !tombstone {
		e.hs, e.outs = one.headers[:0], one.out[:0]
	} else {
		nh := EventHeaders * n
		if tombstone {
			nh += TombstoneHeaders
		}
		e.hs = make([]kgo.RecordHeader, 0, nh)
		e.outs = make([]processors.Output, 0, n+1)
	}
	return e
}

// Add appends the record of one event: its type, ids and encoded value.
func (e *Events) Add(eventType, eventID, commandID, correlationID, causationID string, value []byte) {
	start := len(e.hs)
	e.cmdID, e.corrID, e.causID = e.buf.add(commandID), e.buf.add(correlationID), e.buf.add(causationID)
	e.hs = append(e.hs,
		kgo.RecordHeader{Key: records.HeaderType, Value: e.b.typeHeader(eventType)},
		kgo.RecordHeader{Key: records.HeaderEventID, Value: e.buf.add(eventID)},
		kgo.RecordHeader{Key: records.HeaderCommandID, Value: e.cmdID},
		kgo.RecordHeader{Key: records.HeaderCorrelationID, Value: e.corrID},
		kgo.RecordHeader{Key: records.HeaderCausationID, Value: e.causID},
		kgo.RecordHeader{Key: records.HeaderSchema, Value: e.b.eventFP},
	)
	e.outs = append(e.outs, processors.Output{Key: e.key, Value: value, Headers: e.hs[start:len(e.hs):len(e.hs)]})
}

// Outputs returns the records added, followed by the tombstone (with the
// last event's command, correlation and causation ids) when asked for.
func (e *Events) Outputs() []processors.Output {
	if e.tombstone {
		start := len(e.hs)
		e.hs = append(e.hs,
			kgo.RecordHeader{Key: records.HeaderCommandID, Value: e.cmdID},
			kgo.RecordHeader{Key: records.HeaderCorrelationID, Value: e.corrID},
			kgo.RecordHeader{Key: records.HeaderCausationID, Value: e.causID},
		)
		e.outs = append(e.outs, processors.Output{Key: e.key, Headers: e.hs[start:len(e.hs):len(e.hs)]})
	}
	return e.outs
}

// ResultParts backs the headers of a result record, so that the caller can
// allocate them together with the result it encodes.
type ResultParts struct {
	headers [ResultHeaders]kgo.RecordHeader
}

// Result builds the result record of a command: keyed by commandID, with
// its encoded value (nil when it could not be encoded) and headers in
// parts. When event is the command's event records (a OneEvent that Events
// filled) with the same command and correlation ids, their read-only bytes
// are shared; else the ids are copied into one new buffer.
func (b *Builder) Result(commandID, correlationID string, value []byte, parts *ResultParts, event *OneEvent) processors.Output {
	var cmdID, corrID []byte
	if event != nil {
		if h := event.headers; string(h[2].Value) == commandID && string(h[3].Value) == correlationID &&
			h[2].Key == records.HeaderCommandID && h[3].Key == records.HeaderCorrelationID {
			cmdID, corrID = h[2].Value, h[3].Value
		}
	}
	if cmdID == nil {
		ids := byteSlicer{buf: make([]byte, 0, len(commandID)+len(correlationID))}
		cmdID = ids.add(commandID)
		corrID = cmdID
		if correlationID != commandID {
			corrID = ids.add(correlationID)
		}
	}
	parts.headers = [ResultHeaders]kgo.RecordHeader{
		{Key: records.HeaderType, Value: b.resultType},
		{Key: records.HeaderCommandID, Value: cmdID},
		{Key: records.HeaderCorrelationID, Value: corrID},
		{Key: records.HeaderCausationID, Value: cmdID},
		{Key: records.HeaderSchema, Value: b.resultFP},
	}
	return processors.Output{Key: cmdID, Value: value, Headers: parts.headers[:]}
}

// byteSlicer hands out copies of strings as slices of one buffer, sized
// up front; a string that does not fit gets its own slice. The slices are
// capped at their length, so appending to one cannot overwrite the next.
type byteSlicer struct{ buf []byte }

func (b *byteSlicer) add(s string) []byte {
	if len(b.buf)+len(s) > cap(b.buf) {
		return []byte(s)
	}
	start := len(b.buf)
	b.buf = append(b.buf, s...)
	return b.buf[start:len(b.buf):len(b.buf)]
}
