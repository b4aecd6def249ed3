package schemas

import (
	"time"

	"github.com/prism-cqrs/prism/records"
)

// PaymentStatus is the state of a payment in its status machine:
// PENDING → AUTHORIZED | FAILED | CANCELLED; AUTHORIZED → CAPTURED | FAILED |
// CANCELLED; CAPTURED → REFUNDED. FAILED, CANCELLED and REFUNDED are terminal.
type PaymentStatus string

const (
	StatusPending    PaymentStatus = "PENDING"
	StatusAuthorized PaymentStatus = "AUTHORIZED"
	StatusCaptured   PaymentStatus = "CAPTURED"
	StatusFailed     PaymentStatus = "FAILED"
	StatusCancelled  PaymentStatus = "CANCELLED"
	StatusRefunded   PaymentStatus = "REFUNDED"
)

// Command type names, as carried in the envelope's type field and the
// prism-type header.
const (
	TypeCreatePayment       = "CreatePayment"
	TypeUpdatePayment       = "UpdatePayment"
	TypeChangePaymentStatus = "ChangePaymentStatus"
	TypeDeletePayment       = "DeletePayment"
)

// Event type names.
const (
	TypePaymentCreated       = "PaymentCreated"
	TypePaymentUpdated       = "PaymentUpdated"
	TypePaymentStatusChanged = "PaymentStatusChanged"
	TypePaymentDeleted       = "PaymentDeleted"
)

// RecentCommand remembers one accepted command of a payment so a retry of
// the same command id is answered with its earlier outcome instead of being
// applied twice: the dedup memory entry every aggregate shares
// (records.RecentCommand, kept by package records/dedup).
type RecentCommand = records.RecentCommand

// Payment is the full state of one payment aggregate. Money is an int64 in
// the currency's minor units, never a float.
type Payment struct {
	ID             string          `avro:"id" json:"id"`
	OrganizationID string          `avro:"organizationId" json:"organizationId"`
	UserID         string          `avro:"userId" json:"userId"`
	AmountMinor    int64           `avro:"amountMinor" json:"amountMinor"`
	Currency       string          `avro:"currency" json:"currency"`
	Description    string          `avro:"description" json:"description"`
	Status         PaymentStatus   `avro:"status" json:"status"`
	CreatedAt      time.Time       `avro:"createdAt" json:"createdAt"`
	UpdatedAt      time.Time       `avro:"updatedAt" json:"updatedAt"`
	Version        int64           `avro:"version" json:"version"`
	RecentCommands []RecentCommand `avro:"recentCommands" json:"-"`
}

// Command payloads. Exactly one is set in a CommandEnvelope.
type CreatePayment struct {
	AmountMinor int64  `avro:"amountMinor" json:"amountMinor"`
	Currency    string `avro:"currency" json:"currency"`
	Description string `avro:"description" json:"description"`
}

// UpdatePayment changes amount and/or description; only while PENDING.
// A nil field is left unchanged.
type UpdatePayment struct {
	AmountMinor *int64  `avro:"amountMinor" json:"amountMinor,omitempty"`
	Currency    *string `avro:"currency" json:"currency,omitempty"` // required with AmountMinor
	Description *string `avro:"description" json:"description,omitempty"`
}

type ChangePaymentStatus struct {
	Status PaymentStatus `avro:"status" json:"status"`
	Reason string        `avro:"reason" json:"reason"`
}

type DeletePayment struct {
	Reason string `avro:"reason" json:"reason"`
}

// CommandPayload is the payload union: exactly one field is non-nil.
type CommandPayload struct {
	Create       *CreatePayment
	Update       *UpdatePayment
	ChangeStatus *ChangePaymentStatus
	Delete       *DeletePayment
}

// CommandEnvelope is the value of a record on the commands topic.
type CommandEnvelope struct {
	CommandID       string         `avro:"commandId"`
	Type            string         `avro:"type"`
	PaymentID       string         `avro:"paymentId"`
	OrganizationID  string         `avro:"organizationId"`
	UserID          string         `avro:"userId"`
	CorrelationID   string         `avro:"correlationId"`
	CausationID     string         `avro:"causationId"`
	IssuedAt        time.Time      `avro:"issuedAt"`
	ExpectedVersion *int64         `avro:"expectedVersion"`
	Payload         CommandPayload `avro:"-"`
}

// Event payloads. Exactly one is set in an EventEnvelope.
type PaymentCreated struct {
	AmountMinor int64  `avro:"amountMinor" json:"amountMinor"`
	Currency    string `avro:"currency" json:"currency"`
	Description string `avro:"description" json:"description"`
	UserID      string `avro:"userId" json:"userId"`
}

type PaymentUpdated struct {
	AmountMinor    int64  `avro:"amountMinor" json:"amountMinor"`
	Currency       string `avro:"currency" json:"currency"`
	Description    string `avro:"description" json:"description"`
	PreviousAmount int64  `avro:"previousAmountMinor" json:"previousAmountMinor"`
}

type PaymentStatusChanged struct {
	From   PaymentStatus `avro:"from" json:"from"`
	To     PaymentStatus `avro:"to" json:"to"`
	Reason string        `avro:"reason" json:"reason"`
}

type PaymentDeleted struct {
	Reason string `avro:"reason" json:"reason"`
}

// EventPayload is the event payload union: exactly one field is non-nil.
type EventPayload struct {
	Created       *PaymentCreated
	Updated       *PaymentUpdated
	StatusChanged *PaymentStatusChanged
	Deleted       *PaymentDeleted
}

// EventEnvelope is the value of a record on the events topic. State is the
// full payment after the event, nil after PaymentDeleted (a tombstone for the
// key follows the PaymentDeleted record).
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
	State          *Payment     `avro:"state"`
}

// Reason codes of a rejected command: the records.Reason* codes every
// aggregate shares.
const (
	ReasonAlreadyExists     = records.ReasonAlreadyExists
	ReasonNotFound          = records.ReasonNotFound
	ReasonVersionConflict   = records.ReasonVersionConflict
	ReasonForbidden         = records.ReasonForbidden
	ReasonInvalidTransition = records.ReasonInvalidTransition
	ReasonInvalidState      = records.ReasonInvalidState
	ReasonInvalidField      = records.ReasonInvalidField
)

// CommandResult is the value of a record on the command-results topic, keyed
// by command id. EventVersion is the aggregate version after the command's
// last event when accepted, the current version (0 if none) when rejected.
type CommandResult struct {
	CommandID     string `avro:"commandId" json:"commandId"`
	PaymentID     string `avro:"paymentId" json:"paymentId"`
	Accepted      bool   `avro:"accepted" json:"accepted"`
	Reason        string `avro:"reason" json:"reason,omitempty"`
	Message       string `avro:"message" json:"message,omitempty"`
	Field         string `avro:"field" json:"field,omitempty"`
	EventVersion  int64  `avro:"eventVersion" json:"eventVersion"`
	Duplicate     bool   `avro:"duplicate" json:"duplicate,omitempty"` // answered from the dedup memory; nothing emitted
	CorrelationID string `avro:"correlationId" json:"correlationId"`
}
