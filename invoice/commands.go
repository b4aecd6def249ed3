package invoice

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/producers/jsonl"
	"github.com/prism-cqrs/prism/records"
)

// CommandLine is one line of the JSON Lines command format for invoices
// (invoice/README.md, "JSON Lines"). Amounts are integers of minor units
// (amountMinor), never decimals: a line does not carry the invoice's
// currency. Pointer fields are optional and allowed only for the command
// types that take them.
type CommandLine struct {
	Type            string    `json:"type"`
	CommandID       string    `json:"commandId,omitempty"`
	InvoiceID       string    `json:"invoiceId"`
	OrganizationID  string    `json:"organizationId"`
	UserID          string    `json:"userId"`
	Currency        *string   `json:"currency,omitempty"`
	DueDate         *string   `json:"dueDate,omitempty"`
	LineID          *string   `json:"lineId,omitempty"`
	Description     *string   `json:"description,omitempty"`
	AmountMinor     *int64    `json:"amountMinor,omitempty"`
	PaymentIDs      *[]string `json:"paymentIds,omitempty"`
	Reason          *string   `json:"reason,omitempty"`
	ExpectedVersion *int64    `json:"expectedVersion,omitempty"`
	CorrelationID   string    `json:"correlationId,omitempty"`
	CausationID     string    `json:"causationId,omitempty"`
	IssuedAt        string    `json:"issuedAt,omitempty"`
}

var commandLine = jsonl.NewObject[CommandLine](func(field, jsonType string) (string, bool) {
	if field == "amountMinor" && jsonType == "string" {
		return "must be an integer of minor units like 125000, not a string", true
	}
	if field == "amountMinor" && jsonType == "number" {
		return "must be an integer of minor units like 125000", true
	}
	return "", false
})

// payloadFields lists, per command type, the payload fields it takes (all
// required except description and reason).
var payloadFields = map[string][]string{
	schemas.TypeCreateInvoice:     {"currency", "dueDate"},
	schemas.TypeAddInvoiceLine:    {"lineId", "description", "amountMinor"},
	schemas.TypeRemoveInvoiceLine: {"lineId"},
	schemas.TypeIssueInvoice:      nil,
	schemas.TypeMarkInvoicePaid:   {"paymentIds"},
	schemas.TypeVoidInvoice:       {"reason"},
}

// CommandTypes are the invoice's command types, in the order messages name
// them.
var CommandTypes = []string{schemas.TypeCreateInvoice, schemas.TypeAddInvoiceLine, schemas.TypeRemoveInvoiceLine,
	schemas.TypeIssueInvoice, schemas.TypeMarkInvoicePaid, schemas.TypeVoidInvoice}

// ParseCommandLine decodes one JSON Lines command into an envelope. It
// rejects, with a *jsonl.FieldError naming the field: an unknown or
// repeated key, a field the command type does not take, a missing
// required field, an unknown currency, a dueDate that is not YYYY-MM-DD,
// an amountMinor that is not a positive integer, and any id or text the
// processor's field rules refuse. A missing commandId or correlationId is
// generated; a missing issuedAt is stamped when the command is sent.
func ParseCommandLine(line []byte) (*schemas.CommandEnvelope, error) {
	var cl CommandLine
	if err := commandLine.Decode(line, &cl); err != nil {
		return nil, err
	}
	return cl.Envelope()
}

// Envelope validates cl and converts it (see ParseCommandLine). It does
// not modify cl.
func (cl *CommandLine) Envelope() (*schemas.CommandEnvelope, error) {
	fields, ok := payloadFields[cl.Type]
	if !ok {
		if cl.Type == "" {
			return nil, &jsonl.FieldError{Field: "type", Reason: "required"}
		}
		return nil, &jsonl.FieldError{Field: "type", Reason: fmt.Sprintf("unknown command type %q (want %s)", cl.Type, strings.Join(CommandTypes, ", "))}
	}
	present := map[string]bool{
		"currency": cl.Currency != nil, "dueDate": cl.DueDate != nil, "lineId": cl.LineID != nil,
		"description": cl.Description != nil, "amountMinor": cl.AmountMinor != nil,
		"paymentIds": cl.PaymentIDs != nil, "reason": cl.Reason != nil,
	}
	for _, name := range []string{"currency", "dueDate", "lineId", "description", "amountMinor", "paymentIds", "reason"} {
		if present[name] && !slices.Contains(fields, name) {
			return nil, &jsonl.FieldError{Field: name, Reason: "not allowed for " + cl.Type}
		}
		if !present[name] && slices.Contains(fields, name) && name != "description" && name != "reason" {
			return nil, &jsonl.FieldError{Field: name, Reason: "required"}
		}
	}
	for _, id := range []struct {
		name, v  string
		required bool
	}{
		{"commandId", cl.CommandID, false}, {"invoiceId", cl.InvoiceID, true},
		{"organizationId", cl.OrganizationID, true}, {"userId", cl.UserID, true},
		{"correlationId", cl.CorrelationID, false}, {"causationId", cl.CausationID, false},
	} {
		if id.required && strings.TrimSpace(id.v) == "" {
			return nil, &jsonl.FieldError{Field: id.name, Reason: "required"}
		}
		if fe := checkID(id.name, id.v, id.required); fe != nil {
			return nil, &jsonl.FieldError{Field: id.name, Reason: strings.TrimPrefix(fe.message, id.name+" ")}
		}
	}
	meta, err := jsonl.ParseMeta(cl.CommandID, cl.CorrelationID, cl.ExpectedVersion, cl.IssuedAt)
	if err != nil {
		return nil, err
	}
	env := &schemas.CommandEnvelope{
		CommandID: meta.CommandID, Type: cl.Type, InvoiceID: cl.InvoiceID, OrganizationID: cl.OrganizationID,
		UserID: cl.UserID, CorrelationID: meta.CorrelationID, CausationID: cl.CausationID,
		ExpectedVersion: meta.ExpectedVersion, IssuedAt: meta.IssuedAt,
	}
	p := &env.Payload
	switch cl.Type {
	case schemas.TypeCreateInvoice:
		if !money.Known(*cl.Currency) {
			return nil, &jsonl.FieldError{Field: "currency", Reason: fmt.Sprintf("unknown ISO 4217 currency %q", *cl.Currency)}
		}
		d, err := time.Parse(time.DateOnly, *cl.DueDate)
		if err != nil {
			return nil, &jsonl.FieldError{Field: "dueDate", Reason: fmt.Sprintf("%q is not a date like 2027-01-31", *cl.DueDate)}
		}
		if fe := checkDueDate(d); fe != nil {
			return nil, &jsonl.FieldError{Field: "dueDate", Reason: strings.TrimPrefix(fe.message, "dueDate ")}
		}
		p.Create = &schemas.CreateInvoice{Currency: *cl.Currency, DueDate: d}
	case schemas.TypeAddInvoiceLine:
		a := &schemas.AddInvoiceLine{LineID: *cl.LineID, Description: deref(cl.Description), AmountMinor: *cl.AmountMinor}
		if fe := checkID("lineId", a.LineID, true); fe != nil {
			return nil, &jsonl.FieldError{Field: "lineId", Reason: strings.TrimPrefix(fe.message, "lineId ")}
		}
		if fe := checkText("description", a.Description); fe != nil {
			return nil, &jsonl.FieldError{Field: "description", Reason: strings.TrimPrefix(fe.message, "description ")}
		}
		// The maximum is the processor's (--max-amount-minor), unknown
		// here: only the sign is checked at the line.
		if a.AmountMinor <= 0 {
			return nil, &jsonl.FieldError{Field: "amountMinor", Reason: fmt.Sprintf("%d must be greater than 0", a.AmountMinor)}
		}
		p.AddLine = a
	case schemas.TypeRemoveInvoiceLine:
		if fe := checkID("lineId", *cl.LineID, true); fe != nil {
			return nil, &jsonl.FieldError{Field: "lineId", Reason: strings.TrimPrefix(fe.message, "lineId ")}
		}
		p.RemoveLine = &schemas.RemoveInvoiceLine{LineID: *cl.LineID}
	case schemas.TypeIssueInvoice:
		p.Issue = &schemas.IssueInvoice{}
	case schemas.TypeMarkInvoicePaid:
		p.MarkPaid = &schemas.MarkInvoicePaid{PaymentIDs: append([]string(nil), (*cl.PaymentIDs)...)}
	case schemas.TypeVoidInvoice:
		p.Void = &schemas.VoidInvoice{Reason: deref(cl.Reason)}
	}
	// The payload checks the processor runs without the invoice (the
	// amount's maximum aside).
	if fe := checkPayload(env, Limits{MaxAmountMinor: 1<<63 - 1}); fe != nil {
		return nil, &jsonl.FieldError{Field: fe.field, Reason: strings.TrimPrefix(fe.message, fe.field+" ")}
	}
	return env, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CommandCodec is the invoice's records.CommandCodec: JSON Lines commands
// (CommandLine) in, *schemas.CommandEnvelope records out. Safe for
// concurrent use.
type CommandCodec struct {
	codec  *schemas.Codec
	schema []byte
}

var _ records.CommandCodec = (*CommandCodec)(nil)

// NewCommandCodec returns the invoice command codec over codec.
func NewCommandCodec(codec *schemas.Codec) *CommandCodec {
	return &CommandCodec{codec: codec, schema: []byte(schemas.FingerprintHex(codec.CommandFingerprint()))}
}

// CommandTypes lists the six invoice commands.
func (c *CommandCodec) CommandTypes() []string { return CommandTypes }

// AggregateIDField is "invoiceId".
func (c *CommandCodec) AggregateIDField() string { return "invoiceId" }

// ParseCommand is ParseCommandLine.
func (c *CommandCodec) ParseCommand(line []byte) (records.Command, error) {
	env, err := ParseCommandLine(line)
	if err != nil {
		return nil, err
	}
	return env, nil
}

// EncodeCommand fills the defaults on a copy of cmd (a
// *schemas.CommandEnvelope: a missing issuedAt becomes now, to the
// millisecond the record holds, a missing correlationId the command id)
// and encodes it.
func (c *CommandCodec) EncodeCommand(cmd records.Command, now time.Time) (records.EncodedCommand, error) {
	env, ok := cmd.(*schemas.CommandEnvelope)
	if !ok || env == nil {
		return records.EncodedCommand{}, fmt.Errorf("not an invoice command: %T", cmd)
	}
	if err := records.CheckRouting(env.CommandID, env.InvoiceID, "invoiceId", env.Type); err != nil {
		return records.EncodedCommand{}, err
	}
	norm := *env
	if norm.IssuedAt.IsZero() {
		norm.IssuedAt = time.UnixMilli(now.UnixMilli()).UTC()
	}
	if norm.CorrelationID == "" {
		norm.CorrelationID = norm.CommandID
	}
	value, err := c.codec.EncodeCommand(&norm)
	if err != nil {
		return records.EncodedCommand{}, fmt.Errorf("encode command %s (%s): %w", norm.CommandID, norm.Type, err)
	}
	return records.EncodedCommand{Command: &norm, Meta: norm.CommandMeta(), Value: value, Schema: c.schema}, nil
}
