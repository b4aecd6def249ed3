package payment

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/producers/jsonl"
	"github.com/prism-cqrs/prism/records"
)

// CommandLine is one line of the JSON Lines command format. Amounts are
// decimal strings in the currency's units ("100.00"), never numbers; pointer
// fields are optional and only allowed for the command types named in
// docs/producers.md.
type CommandLine struct {
	Type            string  `json:"type"`
	CommandID       string  `json:"commandId,omitempty"`
	PaymentID       string  `json:"paymentId"`
	OrganizationID  string  `json:"organizationId"`
	UserID          string  `json:"userId"`
	Amount          *string `json:"amount,omitempty"`
	Currency        *string `json:"currency,omitempty"`
	Description     *string `json:"description,omitempty"`
	Status          *string `json:"status,omitempty"`
	Reason          *string `json:"reason,omitempty"`
	ExpectedVersion *int64  `json:"expectedVersion,omitempty"`
	CorrelationID   string  `json:"correlationId,omitempty"`
	CausationID     string  `json:"causationId,omitempty"`
	IssuedAt        string  `json:"issuedAt,omitempty"`
}

// FieldError says which field of a command line is wrong and why.
type FieldError = jsonl.FieldError

// commandLine is how a line is decoded: the documented keys, spelled
// exactly; an amount given as a JSON number gets a hint on the form.
var commandLine = jsonl.NewObject[CommandLine](func(field, jsonType string) (string, bool) {
	if field == "amount" && jsonType == "number" {
		return "must be a decimal string like \"100.00\", not a JSON number", true
	}
	return "", false
})

// ParseCommandLine decodes one JSON Lines command into an envelope. Unknown
// fields (keys are case-sensitive), a key given twice, fields that do not
// belong to the command type, a missing required field, a bad amount (too
// many decimals for the currency, not a decimal string, not above 0), an
// unknown currency and a text the payment rules refuse (CheckID,
// CheckText) are all rejected with a *FieldError naming the field; a line
// that is not valid UTF-8 wraps jsonl.ErrInvalidUTF8; a line that is not a
// single JSON object wraps jsonl.ErrInvalidJSON.
// A missing commandId or correlationId is generated (random UUID); a
// missing issuedAt is left zero and stamped by the producer when sent.
func ParseCommandLine(line []byte) (*schemas.CommandEnvelope, error) {
	var cl CommandLine
	if err := commandLine.Decode(line, &cl); err != nil {
		return nil, err
	}
	return cl.Envelope()
}

// allowed lists the optional fields each command type accepts (besides the
// common ones: type, commandId, paymentId, organizationId, userId,
// expectedVersion, correlationId, causationId, issuedAt).
var allowed = map[string][]string{
	schemas.TypeCreatePayment:       {"amount", "currency", "description"},
	schemas.TypeUpdatePayment:       {"amount", "currency", "description"},
	schemas.TypeChangePaymentStatus: {"status", "reason"},
	schemas.TypeDeletePayment:       {"reason"},
}

var knownStatuses = []schemas.PaymentStatus{
	schemas.StatusPending, schemas.StatusAuthorized, schemas.StatusCaptured,
	schemas.StatusFailed, schemas.StatusCancelled, schemas.StatusRefunded,
}

// Envelope validates the line and converts it to a command envelope (see
// ParseCommandLine for the rules). It does not modify cl.
func (cl *CommandLine) Envelope() (*schemas.CommandEnvelope, error) {
	fields, ok := allowed[cl.Type]
	if !ok {
		if cl.Type == "" {
			return nil, &FieldError{Field: "type", Reason: "required"}
		}
		return nil, &FieldError{Field: "type", Reason: fmt.Sprintf("unknown command type %q (want CreatePayment, UpdatePayment, ChangePaymentStatus or DeletePayment)", cl.Type)}
	}
	for _, opt := range [...]struct {
		name    string
		present bool
	}{
		{"amount", cl.Amount != nil}, {"currency", cl.Currency != nil}, {"description", cl.Description != nil},
		{"status", cl.Status != nil}, {"reason", cl.Reason != nil},
	} {
		if opt.present && !slices.Contains(fields, opt.name) {
			return nil, &FieldError{Field: opt.name, Reason: "not allowed for " + cl.Type}
		}
	}
	for _, req := range []struct{ name, v string }{
		{"paymentId", cl.PaymentID}, {"organizationId", cl.OrganizationID}, {"userId", cl.UserID},
	} {
		if strings.TrimSpace(req.v) == "" {
			return nil, &FieldError{Field: req.name, Reason: "required"}
		}
	}
	if err := cl.checkText(); err != nil {
		return nil, err
	}
	meta, err := jsonl.ParseMeta(cl.CommandID, cl.CorrelationID, cl.ExpectedVersion, cl.IssuedAt)
	if err != nil {
		return nil, err
	}
	env := &schemas.CommandEnvelope{
		CommandID:       meta.CommandID,
		Type:            cl.Type,
		PaymentID:       cl.PaymentID,
		OrganizationID:  cl.OrganizationID,
		UserID:          cl.UserID,
		CorrelationID:   meta.CorrelationID,
		CausationID:     cl.CausationID,
		ExpectedVersion: meta.ExpectedVersion,
		IssuedAt:        meta.IssuedAt,
	}
	switch cl.Type {
	case schemas.TypeCreatePayment:
		env.Payload.Create, err = cl.create()
	case schemas.TypeUpdatePayment:
		env.Payload.Update, err = cl.update()
	case schemas.TypeChangePaymentStatus:
		env.Payload.ChangeStatus, err = cl.changeStatus()
	case schemas.TypeDeletePayment:
		env.Payload.Delete = &schemas.DeletePayment{Reason: deref(cl.Reason)}
	}
	if err != nil {
		return nil, err
	}
	return env, nil
}

func (cl *CommandLine) create() (*schemas.CreatePayment, error) {
	if cl.Amount == nil {
		return nil, &FieldError{Field: "amount", Reason: "required"}
	}
	if cl.Currency == nil {
		return nil, &FieldError{Field: "currency", Reason: "required"}
	}
	minor, err := parseAmount(*cl.Amount, *cl.Currency)
	if err != nil {
		return nil, err
	}
	return &schemas.CreatePayment{AmountMinor: minor, Currency: *cl.Currency, Description: deref(cl.Description)}, nil
}

func (cl *CommandLine) update() (*schemas.UpdatePayment, error) {
	if cl.Amount == nil && cl.Description == nil {
		if cl.Currency != nil {
			return nil, &FieldError{Field: "currency", Reason: "only allowed together with amount"}
		}
		return nil, &FieldError{Field: "amount", Reason: "UpdatePayment needs amount (with currency) and/or description"}
	}
	up := &schemas.UpdatePayment{}
	if cl.Amount != nil || cl.Currency != nil {
		if cl.Amount == nil {
			return nil, &FieldError{Field: "currency", Reason: "only allowed together with amount"}
		}
		if cl.Currency == nil {
			return nil, &FieldError{Field: "currency", Reason: "required with amount"}
		}
		minor, err := parseAmount(*cl.Amount, *cl.Currency)
		if err != nil {
			return nil, err
		}
		cur := *cl.Currency
		up.AmountMinor, up.Currency = &minor, &cur
	}
	if cl.Description != nil {
		d := *cl.Description
		up.Description = &d
	}
	return up, nil
}

func (cl *CommandLine) changeStatus() (*schemas.ChangePaymentStatus, error) {
	if cl.Status == nil || *cl.Status == "" {
		return nil, &FieldError{Field: "status", Reason: "required"}
	}
	st := schemas.PaymentStatus(*cl.Status)
	for _, k := range knownStatuses {
		if st == k {
			return &schemas.ChangePaymentStatus{Status: st, Reason: deref(cl.Reason)}, nil
		}
	}
	return nil, &FieldError{Field: "status", Reason: fmt.Sprintf("unknown status %q (want PENDING, AUTHORIZED, CAPTURED, FAILED, CANCELLED or REFUNDED)", *cl.Status)}
}

// checkText applies the processor's rules for ids and free texts
// (CheckID, CheckText), so a line the processor would
// reject for its text is rejected before anything is produced.
func (cl *CommandLine) checkText() error {
	for _, id := range [...]struct {
		name, v  string
		required bool
	}{
		{"commandId", cl.CommandID, false}, {"paymentId", cl.PaymentID, true},
		{"organizationId", cl.OrganizationID, true}, {"userId", cl.UserID, true},
		{"correlationId", cl.CorrelationID, false}, {"causationId", cl.CausationID, false},
	} {
		if err := CheckID(id.v, id.required); err != nil {
			return &FieldError{Field: id.name, Reason: err.Error()}
		}
	}
	for _, text := range [...]struct {
		name string
		v    *string
	}{{"description", cl.Description}, {"reason", cl.Reason}} {
		if text.v == nil {
			continue
		}
		if err := CheckText(*text.v, MaxTextRunes); err != nil {
			return &FieldError{Field: text.name, Reason: err.Error()}
		}
	}
	return nil
}

// parseAmount checks the currency first, so an unknown currency is reported
// on the currency field rather than as a bad amount.
func parseAmount(amount, currency string) (int64, error) {
	if !money.Known(currency) {
		return 0, &FieldError{Field: "currency", Reason: fmt.Sprintf("unknown ISO 4217 currency %q", currency)}
	}
	minor, err := money.Parse(amount, currency)
	if err != nil {
		return 0, &FieldError{Field: "amount", Reason: strings.TrimPrefix(err.Error(), "amount ")}
	}
	// The maximum is the processor's configuration (--max-amount-minor),
	// unknown here; only the sign is checked at the line.
	if err := CheckAmount(minor, math.MaxInt64); err != nil {
		return 0, &FieldError{Field: "amount", Reason: fmt.Sprintf("%q %s", amount, err)}
	}
	return minor, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CommandTypes are Payment's command types, in the order messages name them.
var CommandTypes = []string{schemas.TypeCreatePayment, schemas.TypeUpdatePayment, schemas.TypeChangePaymentStatus, schemas.TypeDeletePayment}

// CommandCodec is Payment's records.CommandCodec: JSON Lines commands
// (CommandLine) in, *schemas.CommandEnvelope records out. Safe for
// concurrent use.
type CommandCodec struct {
	codec  *schemas.Codec
	schema []byte // the prism-schema header of every command record
}

// NewCommandCodec returns Payment's command codec over codec.
func NewCommandCodec(codec *schemas.Codec) *CommandCodec {
	return &CommandCodec{codec: codec, schema: []byte(schemas.FingerprintHex(codec.CommandFingerprint()))}
}

// CommandTypes lists CreatePayment, UpdatePayment, ChangePaymentStatus and
// DeletePayment.
func (c *CommandCodec) CommandTypes() []string { return CommandTypes }

// AggregateIDField is "paymentId".
func (c *CommandCodec) AggregateIDField() string { return "paymentId" }

// ParseCommand is ParseCommandLine.
func (c *CommandCodec) ParseCommand(line []byte) (records.Command, error) {
	env, err := ParseCommandLine(line)
	if err != nil {
		return nil, err
	}
	return env, nil
}

// EncodeCommand normalizes cmd (a *schemas.CommandEnvelope; see normalize)
// and encodes it: key the payment id, value schemas.Codec.EncodeCommand,
// the headers of docs/schemas.md.
func (c *CommandCodec) EncodeCommand(cmd records.Command, now time.Time) (records.EncodedCommand, error) {
	env, ok := cmd.(*schemas.CommandEnvelope)
	if !ok || env == nil {
		return records.EncodedCommand{}, fmt.Errorf("not a payment command: %T", cmd)
	}
	norm, err := normalize(env, now)
	if err != nil {
		return records.EncodedCommand{}, err
	}
	value, err := c.codec.EncodeCommand(norm)
	if err != nil {
		return records.EncodedCommand{}, fmt.Errorf("encode command %s (%s): %w", norm.CommandID, norm.Type, err)
	}
	return records.EncodedCommand{Command: norm, Meta: norm.CommandMeta(), Value: value, Schema: c.schema}, nil
}

// normalize checks what routing needs and fills the defaults, on a copy:
// the caller's envelope is never modified. A missing issuedAt becomes now
// (UTC, to the millisecond the record holds); a missing correlationId
// becomes the command id (the command starts its own workflow).
func normalize(cmd *schemas.CommandEnvelope, now time.Time) (*schemas.CommandEnvelope, error) {
	if err := records.CheckRouting(cmd.CommandID, cmd.PaymentID, "paymentId", cmd.Type); err != nil {
		return nil, err
	}
	c := *cmd
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.UnixMilli(now.UnixMilli()).UTC()
	}
	if c.CorrelationID == "" {
		c.CorrelationID = c.CommandID
	}
	return &c, nil
}
