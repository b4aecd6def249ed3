package invoice

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/records/outputs"
)

// ErrKeyMismatch (records') is returned by DecodeCommand for a command
// whose record key is not its invoiceId: its event would land in another
// partition than the invoice's state, so it goes to the commands DLQ with
// the class ClassKeyMismatch.
var ErrKeyMismatch = records.ErrKeyMismatch

// ClassKeyMismatch is the DLQ error class of ErrKeyMismatch.
const ClassKeyMismatch = records.ClassKeyMismatch

// AggregateConfig configures the invoice aggregate.
type AggregateConfig struct {
	// Limits of the rules; zero fields take their defaults.
	Limits Limits
	// Codec; nil: schemas.NewCodec().
	Codec *schemas.Codec
	// Logger; nil: slog.Default().
	Logger *slog.Logger
}

// Aggregate is the invoice aggregate as the engine sees it
// (processors.Aggregate). Its State values are *schemas.Invoice, never
// modified once built; it holds no mutable state and is safe for
// concurrent use.
type Aggregate struct {
	limits Limits
	codec  *schemas.Codec
	log    *slog.Logger
	out    *outputs.Builder // the records' keys and standard headers
}

var _ processors.Aggregate = (*Aggregate)(nil)

// NewAggregate validates cfg and builds the aggregate.
func NewAggregate(cfg AggregateConfig) (*Aggregate, error) {
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("invoice aggregate: %w", err)
	}
	codec := cfg.Codec
	if codec == nil {
		c, err := schemas.NewCodec()
		if err != nil {
			return nil, fmt.Errorf("invoice aggregate: %w", err)
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
			schemas.TypeInvoiceCreated, schemas.TypeInvoiceLineAdded, schemas.TypeInvoiceLineRemoved,
			schemas.TypeInvoiceIssued, schemas.TypeInvoicePaid, schemas.TypeInvoiceVoided),
	}, nil
}

// Limits returns the limits in force, defaults filled in.
func (a *Aggregate) Limits() Limits { return a.limits }

// DecodeCommand decodes a commands-topic record into a
// *schemas.CommandEnvelope. It fails with the codec's error or with
// ErrKeyMismatch; the engine then sends the record to the commands DLQ.
// Invalid field values are not decode errors: Handle rejects them.
func (a *Aggregate) DecodeCommand(rec *kgo.Record) (processors.Command, error) {
	cmd, err := a.codec.DecodeCommand(rec.Value)
	if err != nil {
		return nil, fmt.Errorf("decode command at %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	if string(rec.Key) != cmd.InvoiceID {
		return nil, fmt.Errorf("command %q at %s/%d@%d: key %q, invoiceId %q: %w",
			truncateForMessage(cmd.CommandID), rec.Topic, rec.Partition, rec.Offset,
			truncateForMessage(string(rec.Key)), truncateForMessage(cmd.InvoiceID), ErrKeyMismatch)
	}
	return cmd, nil
}

// DecodeState returns the invoice carried by an events-topic value (nil for
// a nil value or an event without state), its dedup memory cut to the
// window in force.
func (a *Aggregate) DecodeState(value []byte) (processors.State, error) {
	if value == nil {
		return nil, nil
	}
	ev, err := a.codec.DecodeEvent(value)
	if err != nil {
		return nil, fmt.Errorf("decode invoice state: %w", err)
	}
	s := ev.State
	if s == nil {
		return nil, nil
	}
	if !ValidStatus(s.Status) {
		return nil, fmt.Errorf("state of invoice %q in event %s: unknown status %q", s.ID, ev.EventID, s.Status)
	}
	if n := len(s.RecentCommands); n > a.limits.DedupWindow {
		s.RecentCommands = s.RecentCommands[n-a.limits.DedupWindow:]
	}
	return s, nil
}

// ErrorClass names a decode error for the DLQ (records.ErrorClass:
// ClassKeyMismatch or the codec's class).
func (a *Aggregate) ErrorClass(err error) string { return records.ErrorClass(err) }

// Invoice returns a state handed out by this aggregate as the wire type,
// nil for none.
func (a *Aggregate) Invoice(state processors.State) *schemas.Invoice {
	s, _ := state.(*schemas.Invoice)
	return s
}

// Handle decides cmd (a *schemas.CommandEnvelope from DecodeCommand) on
// state and builds the records: the event keyed by invoiceId and the result
// keyed by commandId. A rejection or a duplicate has no event and keeps the
// state. If the event cannot be encoded (a bug), the command is answered
// ReasonInternal and nothing else happens.
func (a *Aggregate) Handle(state processors.State, cmd processors.Command, now time.Time) processors.Outcome {
	env, ok := cmd.(*schemas.CommandEnvelope)
	if !ok || env == nil {
		a.log.Error("invoice aggregate handed a command it did not decode", "type", fmt.Sprintf("%T", cmd))
		env = &schemas.CommandEnvelope{}
	}
	current, _ := state.(*schemas.Invoice)
	d := Decide(current, env, now, a.limits)
	out := processors.Outcome{NewState: state, Label: d.Label()}
	// The records of a command and their headers share two allocations.
	parts := new(recordParts)
	var event *outputs.OneEvent
	if ev := d.Event; ev != nil {
		v, err := a.codec.EncodeEvent(ev)
		if err != nil {
			a.log.Error("invoice event not emitted: command answered INTERNAL",
				"command_id", env.CommandID, "invoice_id", env.InvoiceID, "err", err)
			d = reject(current, env, ReasonInternal, "", "the invoice's event could not be encoded")
			out.Label = ReasonInternal
		} else {
			ids := len(ev.EventID) + len(ev.CommandID) + len(ev.CorrelationID) + len(ev.CausationID)
			evs := a.out.Events(ev.AggregateID, 1, ids, false, &parts.event)
			evs.Add(ev.Type, ev.EventID, ev.CommandID, ev.CorrelationID, ev.CausationID, v)
			out.Events, out.NewState = evs.Outputs(), d.State
			event = &parts.event
		}
	}
	r, err := a.codec.EncodeResult(&d.Result)
	if err != nil {
		// A bug: the result is sent without a value rather than stopping
		// the partition.
		a.log.Error("invoice command result not encoded", "command_id", env.CommandID, "err", err)
	}
	out.Result = a.out.Result(d.Result.CommandID, d.Result.CorrelationID, r, &parts.result, event)
	return out
}

// recordParts backs the records of one command.
type recordParts struct {
	event  outputs.OneEvent
	result outputs.ResultParts
}

// Reject implements processors.Rejecter: cmd refused with reason and
// message by a middleware (authorization, validation of your own), in
// the result format of a rejection decided here.
func (a *Aggregate) Reject(state processors.State, cmd processors.Command, reason, message string, _ time.Time) processors.Outcome {
	env, ok := cmd.(*schemas.CommandEnvelope)
	if !ok || env == nil {
		env = &schemas.CommandEnvelope{}
	}
	current, _ := state.(*schemas.Invoice)
	d := reject(current, env, reason, "", message)
	r, err := a.codec.EncodeResult(&d.Result)
	if err != nil {
		a.log.Error("invoice command result not encoded", "command_id", env.CommandID, "err", err)
	}
	return processors.Outcome{NewState: state, Label: reason,
		Result: a.out.Result(d.Result.CommandID, d.Result.CorrelationID, r, new(outputs.ResultParts), nil)}
}
