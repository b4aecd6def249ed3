package payment

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

// ErrKeyMismatch is returned by DecodeCommand for a command whose record key
// is not its paymentId: processing it would put its events in another
// partition than the payment's state, so it goes to the commands DLQ.
var ErrKeyMismatch = errors.New("record key is not the command's paymentId")

// ClassKeyMismatch is the DLQ error class of ErrKeyMismatch.
const ClassKeyMismatch = "key-mismatch"

// ReasonInternal is the rejection reason of a command whose events could
// not be encoded: a bug, never a property of the command. The command is
// answered, nothing is emitted and the partition goes on.
const ReasonInternal = "INTERNAL"

// TypeCommandResult is the prism-type header of a result record.
const TypeCommandResult = "CommandResult"

// AggregateConfig configures the payment aggregate.
type AggregateConfig struct {
	// Limits of the payment rules; zero fields take their defaults.
	Limits Limits
	// Codec encodes and decodes the records; nil: schemas.NewCodec().
	Codec *schemas.Codec
	// Logger; nil: slog.Default().
	Logger *slog.Logger
}

// Validate reports every problem of cfg at once.
func (cfg AggregateConfig) Validate() error {
	if err := cfg.Limits.Validate(); err != nil {
		return fmt.Errorf("payment aggregate: %w", err)
	}
	return nil
}

// Aggregate is the payment aggregate as the engine sees it
// (processors.Aggregate). Its State values are compact *memState values,
// never modified once built; it holds no mutable state of its own and is
// safe for concurrent use.
type Aggregate struct {
	limits   Limits
	codec    *schemas.Codec
	log      *slog.Logger
	eventFP  []byte // hex fingerprint of the event writer schema
	resultFP []byte // hex fingerprint of the result writer schema
	// Read-only header values shared by every record: the prism-type of
	// each event type and of a result.
	typeHeaders map[string][]byte
	resultType  []byte
}

var _ processors.Aggregate = (*Aggregate)(nil)

// NewAggregate validates cfg and builds the payment aggregate.
func NewAggregate(cfg AggregateConfig) (*Aggregate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	codec := cfg.Codec
	if codec == nil {
		c, err := schemas.NewCodec()
		if err != nil {
			return nil, fmt.Errorf("payment aggregate: %w", err)
		}
		codec = c
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Aggregate{
		limits:   cfg.Limits.withDefaults(),
		codec:    codec,
		log:      log,
		eventFP:  []byte(schemas.FingerprintHex(codec.EventFingerprint())),
		resultFP: []byte(schemas.FingerprintHex(codec.ResultFingerprint())),
		typeHeaders: map[string][]byte{
			schemas.TypePaymentCreated:       []byte(schemas.TypePaymentCreated),
			schemas.TypePaymentUpdated:       []byte(schemas.TypePaymentUpdated),
			schemas.TypePaymentStatusChanged: []byte(schemas.TypePaymentStatusChanged),
			schemas.TypePaymentDeleted:       []byte(schemas.TypePaymentDeleted),
		},
		resultType: []byte(TypeCommandResult),
	}, nil
}

// Limits returns the limits in force, defaults filled in.
func (a *Aggregate) Limits() Limits { return a.limits }

// DecodeCommand decodes a commands-topic record into a
// *schemas.CommandEnvelope. It fails with the codec's error (bad magic,
// truncated, unknown fingerprint, bad union, malformed) or with
// ErrKeyMismatch when the record key is not the envelope's paymentId; the
// engine then sends the record to the commands DLQ. Invalid field values
// are not decode errors: Handle rejects them with INVALID_FIELD.
func (a *Aggregate) DecodeCommand(rec *kgo.Record) (processors.Command, error) {
	cmd, err := a.codec.DecodeCommand(rec.Value)
	if err != nil {
		return nil, fmt.Errorf("decode command at %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	if string(rec.Key) != cmd.PaymentID {
		return nil, fmt.Errorf("command %q at %s/%d@%d: key %q, paymentId %q: %w",
			cmd.CommandID, rec.Topic, rec.Partition, rec.Offset, truncateForMessage(string(rec.Key)),
			truncateForMessage(cmd.PaymentID), ErrKeyMismatch)
	}
	return cmd, nil
}

// DecodeState returns the compact state carried by an events-topic value:
// nil for a PaymentDeleted event (or a nil value, a tombstone). A value
// that does not decode, or a state the rules never produce, is an error.
func (a *Aggregate) DecodeState(value []byte) (processors.State, error) {
	if value == nil {
		return nil, nil
	}
	ev, err := a.codec.DecodeEvent(value)
	if err != nil {
		return nil, fmt.Errorf("decode payment state: %w", err)
	}
	if ev.State == nil {
		return nil, nil
	}
	m, err := newMemState(ev.State, nil, a.limits.DedupWindow)
	if err != nil {
		return nil, fmt.Errorf("decode payment state of event %s: %w", ev.EventID, err)
	}
	return m, nil
}

// ErrorClass names a decode error for the DLQ: ClassKeyMismatch, or the
// codec's class (records.ErrorClass).
func (a *Aggregate) ErrorClass(err error) string {
	if errors.Is(err, ErrKeyMismatch) {
		return ClassKeyMismatch
	}
	return records.ErrorClass(err)
}

// Payment returns a state handed out by this aggregate as the wire type,
// nil for no payment (for inspection and tests).
func (a *Aggregate) Payment(state processors.State) *schemas.Payment {
	m, _ := state.(*memState)
	if m == nil {
		return nil
	}
	return m.payment()
}

// Handle decides cmd (a *schemas.CommandEnvelope from DecodeCommand) on
// state and builds the records: each event keyed by paymentId, a tombstone
// for the key after PaymentDeleted, and the result keyed by commandId. It
// never fails: a rejection or a duplicate is an outcome with no events and
// the state passed in. If an event cannot be encoded (a bug), the command
// is answered with ReasonInternal and nothing else happens.
func (a *Aggregate) Handle(state processors.State, cmd processors.Command, now time.Time) processors.Outcome {
	env, ok := cmd.(*schemas.CommandEnvelope)
	if !ok || env == nil {
		a.log.Error("payment aggregate handed a command it did not decode", "type", fmt.Sprintf("%T", cmd))
		env = &schemas.CommandEnvelope{}
	}
	// Decided on m's digests: the current state's dedup keys are not
	// written, nor the next state's parsed back (mem.next).
	var current *schemas.Payment
	mem := compactMemory(nil)
	m, _ := state.(*memState)
	if m != nil {
		current = m.paymentNoMemory()
		mem = compactMemory(m.recent)
	}
	d := decide(current, env, now, a.limits, &mem)

	out := processors.Outcome{NewState: state, Label: d.Label()}
	var parts *recordParts
	if len(d.Events) == 1 && !d.Tombstone {
		// The usual accepted command: its event output, headers and
		// result in one allocation.
		parts = new(recordParts)
	}
	if len(d.Events) > 0 {
		events, next, err := a.eventOutputs(env, d, m, mem.next, parts)
		if err != nil {
			a.log.Error("payment events not emitted: command answered INTERNAL",
				"command_id", env.CommandID, "payment_id", env.PaymentID, "err", err)
			d = reject(current, env, ReasonInternal, "", "the payment's events could not be encoded")
			out.Label = ReasonInternal
		} else {
			out.Events, out.NewState = events, next
		}
	}
	out.Result = a.resultOutput(env, d.Result, parts)
	return out
}

// recordParts backs the records of an accepted command with one event
// and no tombstone.
type recordParts struct {
	event  oneEventOutput
	result resultParts
}

// eventOutputs encodes d's events (and the tombstone) and builds the
// state after them; next is an untyped nil when the payment is gone. The
// records' keys and header values are slices of one read-only buffer,
// their headers of one array.
// digests is the next state's dedup memory (dedupMemory.next).
func (a *Aggregate) eventOutputs(env *schemas.CommandEnvelope, d Decision, prev *memState, digests []dedupEntry, parts *recordParts) ([]processors.Output, processors.State, error) {
	var size int
	for _, ev := range d.Events {
		size += len(ev.EventID) + len(ev.CommandID) + len(ev.CorrelationID) + len(ev.CausationID)
	}
	buf := byteSlicer{buf: make([]byte, 0, len(env.PaymentID)+size)}
	key := buf.add(env.PaymentID)
	nh := 6 * len(d.Events)
	if d.Tombstone {
		nh += 3
	}
	var hs []kgo.RecordHeader
	var outs []processors.Output
	if parts != nil && len(d.Events) == 1 && !d.Tombstone {
		// The usual case: the output and its headers in parts.
		hs, outs = parts.event.headers[:0], parts.event.out[:0]
	} else {
		hs = make([]kgo.RecordHeader, 0, nh)
		outs = make([]processors.Output, 0, len(d.Events)+1)
	}
	var cmdID, corrID, causID []byte
	for _, ev := range d.Events {
		v, err := a.codec.EncodeEvent(ev)
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s v%d of payment %q: %w", ev.Type, ev.Version, ev.AggregateID, err)
		}
		start := len(hs)
		cmdID, corrID, causID = buf.add(ev.CommandID), buf.add(ev.CorrelationID), buf.add(ev.CausationID)
		hs = append(hs,
			kgo.RecordHeader{Key: records.HeaderType, Value: a.typeHeader(ev.Type)},
			kgo.RecordHeader{Key: records.HeaderEventID, Value: buf.add(ev.EventID)},
			kgo.RecordHeader{Key: records.HeaderCommandID, Value: cmdID},
			kgo.RecordHeader{Key: records.HeaderCorrelationID, Value: corrID},
			kgo.RecordHeader{Key: records.HeaderCausationID, Value: causID},
			kgo.RecordHeader{Key: records.HeaderSchema, Value: a.eventFP},
		)
		outs = append(outs, processors.Output{Key: key, Value: v, Headers: hs[start:len(hs):len(hs)]})
	}
	if d.Tombstone {
		// The last event's ids, already in buf.
		start := len(hs)
		hs = append(hs,
			kgo.RecordHeader{Key: records.HeaderCommandID, Value: cmdID},
			kgo.RecordHeader{Key: records.HeaderCorrelationID, Value: corrID},
			kgo.RecordHeader{Key: records.HeaderCausationID, Value: causID},
		)
		outs = append(outs, processors.Output{Key: key, Headers: hs[start:len(hs):len(hs)]})
	}
	if d.State == nil {
		return outs, nil, nil
	}
	next, err := newMemStateWith(d.State, prev, a.limits.DedupWindow, digests)
	if err != nil {
		return nil, nil, err
	}
	return outs, next, nil
}

// oneEventOutput backs the outputs of a decision with one event and no
// tombstone.
type oneEventOutput struct {
	out     [1]processors.Output
	headers [6]kgo.RecordHeader
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

// typeHeader is the prism-type header value of an event type: one shared
// read-only slice per known type.
func (a *Aggregate) typeHeader(t string) []byte {
	if v, ok := a.typeHeaders[t]; ok {
		return v
	}
	return []byte(t)
}

// resultOutput encodes the result record. A result that cannot be encoded
// (a bug) is logged and sent with a nil value rather than stopping the
// partition.
//
// parts, when not nil, is where the result and its headers go (else a new
// resultParts); when it holds an event output whose headers carry the
// result's command and correlation ids, their read-only bytes are shared.
func (a *Aggregate) resultOutput(env *schemas.CommandEnvelope, r schemas.CommandResult, all *recordParts) processors.Output {
	// The result handed to the codec and the headers share one
	// allocation; the key and the ids of the headers share read-only
	// bytes.
	var parts *resultParts
	var cmdID, corrID []byte
	if all != nil {
		parts = &all.result
		if h := all.event.headers; string(h[2].Value) == r.CommandID && string(h[3].Value) == r.CorrelationID &&
			h[2].Key == records.HeaderCommandID && h[3].Key == records.HeaderCorrelationID {
			cmdID, corrID = h[2].Value, h[3].Value
		}
	} else {
		parts = new(resultParts)
	}
	parts.r = r
	v, err := a.codec.EncodeResult(&parts.r)
	if err != nil {
		a.log.Error("command result not encoded", "command_id", env.CommandID, "err", err)
	}
	if cmdID == nil {
		ids := byteSlicer{buf: make([]byte, 0, len(r.CommandID)+len(r.CorrelationID))}
		cmdID = ids.add(r.CommandID)
		corrID = cmdID
		if r.CorrelationID != r.CommandID {
			corrID = ids.add(r.CorrelationID)
		}
	}
	parts.headers = [5]kgo.RecordHeader{
		{Key: records.HeaderType, Value: a.resultType},
		{Key: records.HeaderCommandID, Value: cmdID},
		{Key: records.HeaderCorrelationID, Value: corrID},
		{Key: records.HeaderCausationID, Value: cmdID},
		{Key: records.HeaderSchema, Value: a.resultFP},
	}
	return processors.Output{Key: cmdID, Value: v, Headers: parts.headers[:]}
}

// resultParts holds what a result record needs besides its bytes.
type resultParts struct {
	r       schemas.CommandResult
	headers [5]kgo.RecordHeader
}
