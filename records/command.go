package records

import (
	"io"
	"time"
)

// Command is one command of an aggregate, in the aggregate's own Go form
// (for Payment *schemas.CommandEnvelope). The producer handles it only
// through its CommandMeta and the aggregate's CommandCodec.
type Command interface {
	CommandMeta() CommandMeta
}

// CommandMeta is what the producer routes, reports and awaits a command by.
type CommandMeta struct {
	Type          string // the command type: picks the aggregate; the prism-type header
	CommandID     string // the prism-command-id header; the key of its result
	AggregateID   string // the record key
	CorrelationID string
	CausationID   string
}

// EncodedCommand is a command ready to be written: Meta gives the key
// (AggregateID) and the prism-type / -command-id / -correlation-id /
// -causation-id headers, Value the record value, Schema the prism-schema
// header.
type EncodedCommand struct {
	// Command is the command as sent: a copy of the caller's with the
	// defaults filled (the caller's command is never modified).
	Command Command
	Meta    CommandMeta // of Command
	Value   []byte      // Avro single-object encoding
	// Schema is the prism-schema header value (the writer schema's
	// fingerprint, 16 lower-case hex digits). Read-only: the codec may
	// share it between records.
	Schema []byte
}

// CommandCodec is an aggregate's command side as the producer and the JSON
// Lines reader see it (producers/, docs/producers.md). Safe for concurrent
// use.
type CommandCodec interface {
	// CommandTypes lists the command types the aggregate owns, in the order
	// messages name them. The JSON Lines `type` field picks the aggregate
	// by them, so no two aggregates of one binary share a type.
	CommandTypes() []string
	// AggregateIDField is the JSON name of the aggregate id ("paymentId"):
	// the JSON Lines key the record key comes from, and the key of the
	// aggregate id in the results `prism produce --wait` prints.
	AggregateIDField() string
	// ParseCommand parses and validates one JSON Lines object whose type
	// is one of CommandTypes. Errors name the field (*jsonl.FieldError of
	// producers/jsonl) or wrap jsonl.ErrInvalidJSON / jsonl.ErrInvalidUTF8.
	// A missing command id or correlation id is generated; a missing
	// issued-at is left for EncodeCommand.
	ParseCommand(line []byte) (Command, error)
	// EncodeCommand checks what routing needs (command id, aggregate id,
	// type), fills the defaults on a copy — a missing issued-at becomes
	// now, to the millisecond the record holds, a missing correlation id
	// the command id — and encodes it. It fails for a command that is not
	// the aggregate's.
	EncodeCommand(cmd Command, now time.Time) (EncodedCommand, error)
}

// GeneratorConfig describes a generated workload (`prism produce
// --generate`). Zero values mean the generator's defaults.
type GeneratorConfig struct {
	Count         int     // commands to generate
	Organizations int     // organizations (tenants) of the workload
	Seed          int64   // same seed and config, same commands, byte for byte
	InvalidRatio  float64 // share of commands built to be rejected, in [0, 1]
	IDPrefix      string  // prefix of every generated id
	// Start, when set, is the issued-at of the first command, the next ones
	// following every Interval; when zero, issued-at is stamped when sent.
	Start    time.Time
	Interval time.Duration
}

// CommandSource yields commands in order; ok is false after the last one.
// An error stops the run.
type CommandSource func() (cmd Command, ok bool, err error)

// CommandGenerator builds an aggregate's reproducible workload.
type CommandGenerator interface {
	// Generate checks cfg (an error is a usage error) and returns the
	// workload. Each command is first written to out as one JSON Lines
	// object when out is not nil; with commands false the source only
	// writes the lines and yields nil commands.
	Generate(cfg GeneratorConfig, out io.Writer, commands bool) (CommandSource, error)
}
