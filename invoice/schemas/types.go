package schemas

import (
	"time"

	"github.com/prism-cqrs/prism/records"
)

// InvoiceStatus is where an invoice is in its status machine:
// DRAFT → ISSUED | VOID; ISSUED → PAID | VOID. PAID and VOID are terminal.
type InvoiceStatus string

const (
	StatusDraft  InvoiceStatus = "DRAFT"
	StatusIssued InvoiceStatus = "ISSUED"
	StatusPaid   InvoiceStatus = "PAID"
	StatusVoid   InvoiceStatus = "VOID"
)

// Command type names, as carried in the envelope's type field and the
// prism-type header.
const (
	TypeCreateInvoice     = "CreateInvoice"
	TypeAddInvoiceLine    = "AddInvoiceLine"
	TypeRemoveInvoiceLine = "RemoveInvoiceLine"
	TypeIssueInvoice      = "IssueInvoice"
	TypeMarkInvoicePaid   = "MarkInvoicePaid"
	TypeVoidInvoice       = "VoidInvoice"
)

// Event type names.
const (
	TypeInvoiceCreated     = "InvoiceCreated"
	TypeInvoiceLineAdded   = "InvoiceLineAdded"
	TypeInvoiceLineRemoved = "InvoiceLineRemoved"
	TypeInvoiceIssued      = "InvoiceIssued"
	TypeInvoicePaid        = "InvoicePaid"
	TypeInvoiceVoided      = "InvoiceVoided"
)

// TypeCommandResult is the prism-type header of a result record.
const TypeCommandResult = records.TypeCommandResult

// RecentCommand is one entry of an invoice's dedup memory (the shared
// records.RecentCommand: a command id's dedup key and the version it
// reached).
type RecentCommand = records.RecentCommand

// InvoiceLine is one line of an invoice, in the invoice's currency.
type InvoiceLine struct {
	LineID      string `avro:"lineId" json:"lineId"`
	Description string `avro:"description" json:"description"`
	AmountMinor int64  `avro:"amountMinor" json:"amountMinor"`
}

// Invoice is the full state of one invoice. Money is an int64 in the
// currency's minor units, never a float. Empty lists are nil. A value
// handed out by the codec or the rules is never modified afterwards: a
// change builds a new Invoice (the slices of the old one may be shared).
type Invoice struct {
	ID             string          `avro:"id" json:"id"`
	OrganizationID string          `avro:"organizationId" json:"organizationId"`
	UserID         string          `avro:"userId" json:"userId"`
	Currency       string          `avro:"currency" json:"currency"`
	DueDate        time.Time       `avro:"dueDate" json:"dueDate"` // a date: UTC midnight
	Status         InvoiceStatus   `avro:"status" json:"status"`
	Lines          []InvoiceLine   `avro:"lines" json:"lines"`
	TotalMinor     int64           `avro:"totalMinor" json:"totalMinor"`
	PaymentIDs     []string        `avro:"paymentIds" json:"paymentIds"`
	VoidReason     string          `avro:"voidReason" json:"voidReason,omitempty"`
	CreatedAt      time.Time       `avro:"createdAt" json:"createdAt"`
	UpdatedAt      time.Time       `avro:"updatedAt" json:"updatedAt"`
	IssuedAt       *time.Time      `avro:"issuedAt" json:"issuedAt,omitempty"`
	PaidAt         *time.Time      `avro:"paidAt" json:"paidAt,omitempty"`
	VoidedAt       *time.Time      `avro:"voidedAt" json:"voidedAt,omitempty"`
	Version        int64           `avro:"version" json:"version"`
	RecentCommands []RecentCommand `avro:"recentCommands" json:"-"`
}

// Line returns the line with id lineID and its index, or -1.
func (inv *Invoice) Line(lineID string) (InvoiceLine, int) {
	for i, l := range inv.Lines {
		if l.LineID == lineID {
			return l, i
		}
	}
	return InvoiceLine{}, -1
}

// Command payloads. Exactly one is set in a CommandEnvelope.

// CreateInvoice opens a DRAFT invoice of the envelope's organization.
type CreateInvoice struct {
	Currency string    `avro:"currency" json:"currency"`
	DueDate  time.Time `avro:"dueDate" json:"dueDate"` // a date: UTC midnight
}

// AddInvoiceLine adds a line to a DRAFT invoice; LineID is chosen by the
// sender and unique within the invoice.
type AddInvoiceLine struct {
	LineID      string `avro:"lineId" json:"lineId"`
	Description string `avro:"description" json:"description"`
	AmountMinor int64  `avro:"amountMinor" json:"amountMinor"`
}

// RemoveInvoiceLine removes the line LineID from a DRAFT invoice.
type RemoveInvoiceLine struct {
	LineID string `avro:"lineId" json:"lineId"`
}

// IssueInvoice moves a DRAFT invoice with at least one line to ISSUED.
type IssueInvoice struct{}

// MarkInvoicePaid moves an ISSUED invoice to PAID, naming the payments.
type MarkInvoicePaid struct {
	PaymentIDs []string `avro:"paymentIds" json:"paymentIds"`
}

// VoidInvoice moves a DRAFT or ISSUED invoice to VOID.
type VoidInvoice struct {
	Reason string `avro:"reason" json:"reason"`
}

// CommandPayload is the payload union: exactly one field is non-nil.
type CommandPayload struct {
	Create     *CreateInvoice
	AddLine    *AddInvoiceLine
	RemoveLine *RemoveInvoiceLine
	Issue      *IssueInvoice
	MarkPaid   *MarkInvoicePaid
	Void       *VoidInvoice
}

// CommandEnvelope is the value of a record on the commands topic.
type CommandEnvelope struct {
	CommandID       string         `avro:"commandId"`
	Type            string         `avro:"type"`
	InvoiceID       string         `avro:"invoiceId"`
	OrganizationID  string         `avro:"organizationId"`
	UserID          string         `avro:"userId"`
	CorrelationID   string         `avro:"correlationId"`
	CausationID     string         `avro:"causationId"`
	IssuedAt        time.Time      `avro:"issuedAt"`
	ExpectedVersion *int64         `avro:"expectedVersion"`
	Payload         CommandPayload `avro:"-"`
}

// Event payloads. Exactly one is set in an EventEnvelope.

type InvoiceCreated struct {
	Currency string    `avro:"currency" json:"currency"`
	DueDate  time.Time `avro:"dueDate" json:"dueDate"`
	UserID   string    `avro:"userId" json:"userId"`
}

type InvoiceLineAdded struct {
	LineID      string `avro:"lineId" json:"lineId"`
	Description string `avro:"description" json:"description"`
	AmountMinor int64  `avro:"amountMinor" json:"amountMinor"`
	TotalMinor  int64  `avro:"totalMinor" json:"totalMinor"`
}

type InvoiceLineRemoved struct {
	LineID      string `avro:"lineId" json:"lineId"`
	AmountMinor int64  `avro:"amountMinor" json:"amountMinor"`
	TotalMinor  int64  `avro:"totalMinor" json:"totalMinor"`
}

type InvoiceIssued struct {
	TotalMinor int64 `avro:"totalMinor" json:"totalMinor"`
	LineCount  int32 `avro:"lineCount" json:"lineCount"`
}

type InvoicePaid struct {
	PaymentIDs []string `avro:"paymentIds" json:"paymentIds"`
	TotalMinor int64    `avro:"totalMinor" json:"totalMinor"`
}

type InvoiceVoided struct {
	From   InvoiceStatus `avro:"from" json:"from"`
	Reason string        `avro:"reason" json:"reason"`
}

// EventPayload is the event payload union: exactly one field is non-nil.
type EventPayload struct {
	Created     *InvoiceCreated
	LineAdded   *InvoiceLineAdded
	LineRemoved *InvoiceLineRemoved
	Issued      *InvoiceIssued
	Paid        *InvoicePaid
	Voided      *InvoiceVoided
}

// EventEnvelope is the value of a record on the events topic. State is the
// full invoice after the event; the rules never emit an event without one
// (an invoice is never deleted), but a reader accepts a null state as "no
// invoice".
type EventEnvelope struct {
	EventID        string       `avro:"eventId"`
	Type           string       `avro:"type"`
	AggregateID    string       `avro:"aggregateId"`
	Version        int64        `avro:"version"`
	CommandID      string       `avro:"commandId"`
	CorrelationID  string       `avro:"correlationId"`
	CausationID    string       `avro:"causationId"`
	OccurredAt     time.Time    `avro:"occurredAt"`
	OrganizationID string       `avro:"organizationId"`
	Payload        EventPayload `avro:"-"`
	State          *Invoice     `avro:"state"`
}

// CommandResult is the value of a record on the command-results topic, keyed
// by command id. EventVersion is the invoice version after the command's
// event when accepted, the current version (0 if none) when rejected.
type CommandResult struct {
	CommandID     string `avro:"commandId" json:"commandId"`
	InvoiceID     string `avro:"invoiceId" json:"invoiceId"`
	Accepted      bool   `avro:"accepted" json:"accepted"`
	Reason        string `avro:"reason" json:"reason,omitempty"`
	Message       string `avro:"message" json:"message,omitempty"`
	Field         string `avro:"field" json:"field,omitempty"`
	EventVersion  int64  `avro:"eventVersion" json:"eventVersion"`
	Duplicate     bool   `avro:"duplicate" json:"duplicate,omitempty"`
	CorrelationID string `avro:"correlationId" json:"correlationId"`
}
