package payment

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/dedup"
	"github.com/prism-cqrs/prism/records/outputs"
)

// ErrKeyMismatch (records.ErrKeyMismatch) is returned by DecodeCommand for
// a command whose record key is not its paymentId: processing it would put
// its events in another partition than the payment's state, so it goes to
// the commands DLQ.
var ErrKeyMismatch = records.ErrKeyMismatch

// ClassKeyMismatch is the DLQ error class of ErrKeyMismatch.
const ClassKeyMismatch = records.ClassKeyMismatch

// ReasonInternal (records.ReasonInternal) is the rejection reason of a
// command whose events could not be encoded: a bug, never a property of
// the command. The command is answered, nothing is emitted and the
// partition goes on.
const ReasonInternal = records.ReasonInternal

// TypeCommandResult is the prism-type header of a result record
// (records.TypeCommandResult).
const TypeCommandResult = records.TypeCommandResult

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
	limits Limits
	codec  *schemas.Codec
	log    *slog.Logger
	// out builds the records with their headers, the read-only header
	// values (types, schema fingerprints) shared by every record.
	out *outputs.Builder
	// scratch holds *handleScratch values for Handle.
	scratch sync.Pool
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
		limits: cfg.Limits.withDefaults(),
		codec:  codec,
		log:    log,
		out: outputs.NewBuilder(
			schemas.FingerprintHex(codec.EventFingerprint()), schemas.FingerprintHex(codec.ResultFingerprint()),
			schemas.TypePaymentCreated, schemas.TypePaymentUpdated, schemas.TypePaymentStatusChanged, schemas.TypePaymentDeleted),
		scratch: sync.Pool{New: func() any { return new(handleScratch) }},
	}, nil
}

// Limits returns the limits in force, defaults filled in.
func (a *Aggregate) Limits() Limits { return a.limits }

// DecodeCommand decodes a commands-topic record into a
// *schemas.CommandEnvelope. It fails with the codec's error (bad magic,
// truncated, unknown fingerprint, bad union, malformed) or with
// ErrKeyMismatch when the record key is not the envelope's paymentId; the
// engine then sends the record to the commands DLQ. Invalid field values
// are not decode errors: Handle rejects them with INVALID_FIELD. The
// envelope's strings may share rec.Value's bytes
// (schemas.Codec.DecodeCommandShared): rec.Value must not be modified while
// the envelope is in use.
func (a *Aggregate) DecodeCommand(rec *kgo.Record) (processors.Command, error) {
	// The record's value never changes (franz-go does not reuse it, the
	// engine never writes it): the command's strings share its bytes.
	cmd, err := a.codec.DecodeCommandShared(rec.Value)
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

// ErrorClass names a decode error for the DLQ: ClassKeyMismatch or the
// codec's class (records.ErrorClass names both).
func (a *Aggregate) ErrorClass(err error) string {
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
	// The current state as the wire type, the event, its payload and the
	// state after it are only read while deciding and encoding: they come
	// from a pool and go back to it before Handle returns (nothing Handle
	// returns points into them: the records' bytes are copies, and the
	// next memState shares none of them), which saves the garbage
	// collector about 600 bytes per command.
	s := a.scratch.Get().(*handleScratch)
	defer func() {
		*s = handleScratch{}
		a.scratch.Put(s)
	}()
	// Decided on m's digests: the current state's dedup keys are not
	// written, nor the next state's parsed back (mem.next).
	var current *schemas.Payment
	mem := dedup.CompactMemory(nil)
	m, _ := state.(*memState)
	if m != nil {
		current = m.fillPaymentNoMemory(&s.current)
		mem = dedup.CompactMemory(m.recent)
	}
	d := decide(current, env, now, a.limits, &mem, &s.decided)

	out := processors.Outcome{NewState: state, Label: d.Label()}
	var parts *recordParts
	if len(d.Events) == 1 && !d.Tombstone {
		// The usual accepted command: its event output, headers and
		// result in one allocation.
		parts = new(recordParts)
	}
	if len(d.Events) > 0 {
		events, next, err := a.eventOutputs(env, d, m, mem.Next(), parts)
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

// handleScratch is what Handle uses only while it runs (Aggregate.scratch).
type handleScratch struct {
	current schemas.Payment
	decided oneEvent
}

// recordParts backs the records of an accepted command with one event
// and no tombstone.
type recordParts struct {
	event  outputs.OneEvent
	result resultParts
}

// eventOutputs encodes d's events (and the tombstone) and builds the
// state after them; next is an untyped nil when the payment is gone. The
// records' keys and header values are slices of one read-only buffer,
// their headers of one array (outputs.Builder.Events).
// digests is the next state's dedup memory (dedup.Memory.Next).
func (a *Aggregate) eventOutputs(env *schemas.CommandEnvelope, d Decision, prev *memState, digests []dedup.Entry, parts *recordParts) ([]processors.Output, processors.State, error) {
	var size int
	for _, ev := range d.Events {
		size += len(ev.EventID) + len(ev.CommandID) + len(ev.CorrelationID) + len(ev.CausationID)
	}
	var one *outputs.OneEvent
	if parts != nil {
		one = &parts.event
	}
	b := a.out.Events(env.PaymentID, len(d.Events), size, d.Tombstone, one)
	for _, ev := range d.Events {
		v, err := a.codec.EncodeEvent(ev)
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s v%d of payment %q: %w", ev.Type, ev.Version, ev.AggregateID, err)
		}
		b.Add(ev.Type, ev.EventID, ev.CommandID, ev.CorrelationID, ev.CausationID, v)
	}
	outs := b.Outputs()
	if d.State == nil {
		return outs, nil, nil
	}
	next, err := newMemStateWith(d.State, prev, a.limits.DedupWindow, digests)
	if err != nil {
		return nil, nil, err
	}
	return outs, next, nil
}

// resultOutput encodes the result record. A result that cannot be encoded
// (a bug) is logged and sent with a nil value rather than stopping the
// partition.
//
// all, when not nil, is where the result and its headers go (else a new
// resultParts); its event output, when it carries the result's command and
// correlation ids, shares their read-only bytes.
func (a *Aggregate) resultOutput(env *schemas.CommandEnvelope, r schemas.CommandResult, all *recordParts) processors.Output {
	// The result handed to the codec and the headers share one
	// allocation; the key and the ids of the headers share read-only
	// bytes.
	var parts *resultParts
	var event *outputs.OneEvent
	if all != nil {
		parts, event = &all.result, &all.event
	} else {
		parts = new(resultParts)
	}
	parts.r = r
	v, err := a.codec.EncodeResult(&parts.r)
	if err != nil {
		a.log.Error("command result not encoded", "command_id", env.CommandID, "err", err)
	}
	return a.out.Result(r.CommandID, r.CorrelationID, v, &parts.headers, event)
}

// resultParts holds what a result record needs besides its bytes.
type resultParts struct {
	r       schemas.CommandResult
	headers outputs.ResultParts
}

// Reject implements processors.Rejecter: cmd refused with reason and
// message by a middleware (authorization, validation of your own), in
// the result format of a rejection decided here.
func (a *Aggregate) Reject(state processors.State, cmd processors.Command, reason, message string, _ time.Time) processors.Outcome {
	env, ok := cmd.(*schemas.CommandEnvelope)
	if !ok || env == nil {
		env = &schemas.CommandEnvelope{}
	}
	var current *schemas.Payment
	if m, _ := state.(*memState); m != nil {
		current = m.paymentNoMemory()
	}
	d := reject(current, env, reason, "", message)
	return processors.Outcome{NewState: state, Label: reason, Result: a.resultOutput(env, d.Result, nil)}
}
