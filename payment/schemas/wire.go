package schemas

import (
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/records"
)

// The Go envelopes carry their payload union as a struct with one pointer per
// branch (tagged avro:"-"). On the wire the union is an Avro union of named
// records. These flat wire structs mirror the envelopes field for field (a
// test keeps them in step) with the union as an interface holding the branch
// pointer, which hamba/avro encodes by the pointer's registered name and
// decodes into a new value of the registered type. They are flat rather than
// embedding the envelope because hamba resolves embedded fields through
// reflection on every record; they are pooled per Codec so the hot path does
// not allocate them.
type commandWire struct {
	CommandID       string    `avro:"commandId"`
	Type            string    `avro:"type"`
	PaymentID       string    `avro:"paymentId"`
	OrganizationID  string    `avro:"organizationId"`
	UserID          string    `avro:"userId"`
	CorrelationID   string    `avro:"correlationId"`
	CausationID     string    `avro:"causationId"`
	IssuedAt        time.Time `avro:"issuedAt"`
	ExpectedVersion *int64    `avro:"expectedVersion"`
	Payload         any       `avro:"payload"`
}

func (w *commandWire) fromEnvelope(c *CommandEnvelope, payload any) {
	*w = commandWire{
		CommandID:       c.CommandID,
		Type:            c.Type,
		PaymentID:       c.PaymentID,
		OrganizationID:  c.OrganizationID,
		UserID:          c.UserID,
		CorrelationID:   c.CorrelationID,
		CausationID:     c.CausationID,
		IssuedAt:        c.IssuedAt,
		ExpectedVersion: c.ExpectedVersion,
		Payload:         payload,
	}
}

// toEnvelope copies every field but the payload.
func (w *commandWire) toEnvelope(c *CommandEnvelope) {
	*c = CommandEnvelope{
		CommandID:       w.CommandID,
		Type:            w.Type,
		PaymentID:       w.PaymentID,
		OrganizationID:  w.OrganizationID,
		UserID:          w.UserID,
		CorrelationID:   w.CorrelationID,
		CausationID:     w.CausationID,
		IssuedAt:        w.IssuedAt,
		ExpectedVersion: w.ExpectedVersion,
	}
}

type eventWire struct {
	EventID        string    `avro:"eventId"`
	Type           string    `avro:"type"`
	AggregateID    string    `avro:"aggregateId"`
	Version        int64     `avro:"version"`
	CommandID      string    `avro:"commandId"`
	CorrelationID  string    `avro:"correlationId"`
	CausationID    string    `avro:"causationId"`
	OccurredAt     time.Time `avro:"occurredAt"`
	OrganizationID string    `avro:"organizationId"`
	Payload        any       `avro:"payload"`
	State          *Payment  `avro:"state"`
}

func (w *eventWire) fromEnvelope(e *EventEnvelope, payload any) {
	*w = eventWire{
		EventID:        e.EventID,
		Type:           e.Type,
		AggregateID:    e.AggregateID,
		Version:        e.Version,
		CommandID:      e.CommandID,
		CorrelationID:  e.CorrelationID,
		CausationID:    e.CausationID,
		OccurredAt:     e.OccurredAt,
		OrganizationID: e.OrganizationID,
		Payload:        payload,
		State:          e.State,
	}
}

// toEnvelope copies every field but the payload.
func (w *eventWire) toEnvelope(e *EventEnvelope) {
	*e = EventEnvelope{
		EventID:        w.EventID,
		Type:           w.Type,
		AggregateID:    w.AggregateID,
		Version:        w.Version,
		CommandID:      w.CommandID,
		CorrelationID:  w.CorrelationID,
		CausationID:    w.CausationID,
		OccurredAt:     w.OccurredAt,
		OrganizationID: w.OrganizationID,
		State:          w.State,
	}
}

// unionBranches maps each payload union branch record (below Namespace) to
// its Go type; the codec registers them on its own frozen API (never the
// package-level avro registry).
func unionBranches() map[string]any {
	return map[string]any{
		TypeCreatePayment:        &CreatePayment{},
		TypeUpdatePayment:        &UpdatePayment{},
		TypeChangePaymentStatus:  &ChangePaymentStatus{},
		TypeDeletePayment:        &DeletePayment{},
		TypePaymentCreated:       &PaymentCreated{},
		TypePaymentUpdated:       &PaymentUpdated{},
		TypePaymentStatusChanged: &PaymentStatusChanged{},
		TypePaymentDeleted:       &PaymentDeleted{},
	}
}

// Branch returns the set branch and its type name. It fails with ErrBadUnion
// when no branch or more than one branch is set.
func (p *CommandPayload) Branch() (any, string, error) {
	var (
		v    any
		name string
		n    int
	)
	if p.Create != nil {
		v, name, n = p.Create, TypeCreatePayment, n+1
	}
	if p.Update != nil {
		v, name, n = p.Update, TypeUpdatePayment, n+1
	}
	if p.ChangeStatus != nil {
		v, name, n = p.ChangeStatus, TypeChangePaymentStatus, n+1
	}
	if p.Delete != nil {
		v, name, n = p.Delete, TypeDeletePayment, n+1
	}
	if n != 1 {
		return nil, "", fmt.Errorf("%w: command payload has %d branches set, want exactly 1", records.ErrBadUnion, n)
	}
	return v, name, nil
}

// Branch returns the set branch and its type name. It fails with ErrBadUnion
// when no branch or more than one branch is set.
func (p *EventPayload) Branch() (any, string, error) {
	var (
		v    any
		name string
		n    int
	)
	if p.Created != nil {
		v, name, n = p.Created, TypePaymentCreated, n+1
	}
	if p.Updated != nil {
		v, name, n = p.Updated, TypePaymentUpdated, n+1
	}
	if p.StatusChanged != nil {
		v, name, n = p.StatusChanged, TypePaymentStatusChanged, n+1
	}
	if p.Deleted != nil {
		v, name, n = p.Deleted, TypePaymentDeleted, n+1
	}
	if n != 1 {
		return nil, "", fmt.Errorf("%w: event payload has %d branches set, want exactly 1", records.ErrBadUnion, n)
	}
	return v, name, nil
}

// setCommandPayload stores a decoded union value in the envelope and returns
// the branch's type name.
func setCommandPayload(p *CommandPayload, v any) (string, error) {
	*p = CommandPayload{}
	switch b := v.(type) {
	case *CreatePayment:
		p.Create = b
		return TypeCreatePayment, nil
	case *UpdatePayment:
		p.Update = b
		return TypeUpdatePayment, nil
	case *ChangePaymentStatus:
		p.ChangeStatus = b
		return TypeChangePaymentStatus, nil
	case *DeletePayment:
		p.Delete = b
		return TypeDeletePayment, nil
	default:
		return "", fmt.Errorf("%w: command payload decoded as %T", records.ErrBadUnion, v)
	}
}

// setEventPayload stores a decoded union value in the envelope and returns
// the branch's type name.
func setEventPayload(p *EventPayload, v any) (string, error) {
	*p = EventPayload{}
	switch b := v.(type) {
	case *PaymentCreated:
		p.Created = b
		return TypePaymentCreated, nil
	case *PaymentUpdated:
		p.Updated = b
		return TypePaymentUpdated, nil
	case *PaymentStatusChanged:
		p.StatusChanged = b
		return TypePaymentStatusChanged, nil
	case *PaymentDeleted:
		p.Deleted = b
		return TypePaymentDeleted, nil
	default:
		return "", fmt.Errorf("%w: event payload decoded as %T", records.ErrBadUnion, v)
	}
}
