package schemas

import (
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/records"
)

// The Go envelopes carry their payload union as a struct with one pointer
// per branch (tagged avro:"-"). On the wire it is an Avro union of named
// records: these wire structs mirror the envelopes with the union as an
// interface holding the branch pointer, which hamba/avro encodes by the
// pointer's registered name and decodes into a new value of that type.
type commandWire struct {
	CommandID       string    `avro:"commandId"`
	Type            string    `avro:"type"`
	InvoiceID       string    `avro:"invoiceId"`
	OrganizationID  string    `avro:"organizationId"`
	UserID          string    `avro:"userId"`
	CorrelationID   string    `avro:"correlationId"`
	CausationID     string    `avro:"causationId"`
	IssuedAt        time.Time `avro:"issuedAt"`
	ExpectedVersion *int64    `avro:"expectedVersion"`
	Payload         any       `avro:"payload"`
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
	State          *Invoice  `avro:"state"`
}

// unionBranches maps each union branch record name (without namespace) to
// the Go type hamba/avro encodes it from and decodes it into.
func unionBranches() map[string]any {
	return map[string]any{
		TypeCreateInvoice:      &CreateInvoice{},
		TypeAddInvoiceLine:     &AddInvoiceLine{},
		TypeRemoveInvoiceLine:  &RemoveInvoiceLine{},
		TypeIssueInvoice:       &IssueInvoice{},
		TypeMarkInvoicePaid:    &MarkInvoicePaid{},
		TypeVoidInvoice:        &VoidInvoice{},
		TypeInvoiceCreated:     &InvoiceCreated{},
		TypeInvoiceLineAdded:   &InvoiceLineAdded{},
		TypeInvoiceLineRemoved: &InvoiceLineRemoved{},
		TypeInvoiceIssued:      &InvoiceIssued{},
		TypeInvoicePaid:        &InvoicePaid{},
		TypeInvoiceVoided:      &InvoiceVoided{},
	}
}

// Branch returns the set branch and its type name. It fails with
// records.ErrBadUnion unless exactly one branch is set.
func (p *CommandPayload) Branch() (any, string, error) {
	var (
		v    any
		name string
		n    int
	)
	pick := func(set bool, b any, t string) {
		if set {
			v, name, n = b, t, n+1
		}
	}
	pick(p.Create != nil, p.Create, TypeCreateInvoice)
	pick(p.AddLine != nil, p.AddLine, TypeAddInvoiceLine)
	pick(p.RemoveLine != nil, p.RemoveLine, TypeRemoveInvoiceLine)
	pick(p.Issue != nil, p.Issue, TypeIssueInvoice)
	pick(p.MarkPaid != nil, p.MarkPaid, TypeMarkInvoicePaid)
	pick(p.Void != nil, p.Void, TypeVoidInvoice)
	if n != 1 {
		return nil, "", fmt.Errorf("%w: command payload has %d branches set, want exactly 1", records.ErrBadUnion, n)
	}
	return v, name, nil
}

// set stores a decoded union value and returns the branch's type name.
func (p *CommandPayload) set(v any) (string, error) {
	*p = CommandPayload{}
	switch b := v.(type) {
	case *CreateInvoice:
		p.Create = b
		return TypeCreateInvoice, nil
	case *AddInvoiceLine:
		p.AddLine = b
		return TypeAddInvoiceLine, nil
	case *RemoveInvoiceLine:
		p.RemoveLine = b
		return TypeRemoveInvoiceLine, nil
	case *IssueInvoice:
		p.Issue = b
		return TypeIssueInvoice, nil
	case *MarkInvoicePaid:
		p.MarkPaid = b
		return TypeMarkInvoicePaid, nil
	case *VoidInvoice:
		p.Void = b
		return TypeVoidInvoice, nil
	}
	return "", fmt.Errorf("%w: command payload decoded as %T", records.ErrBadUnion, v)
}

// Branch returns the set branch and its type name. It fails with
// records.ErrBadUnion unless exactly one branch is set.
func (p *EventPayload) Branch() (any, string, error) {
	var (
		v    any
		name string
		n    int
	)
	pick := func(set bool, b any, t string) {
		if set {
			v, name, n = b, t, n+1
		}
	}
	pick(p.Created != nil, p.Created, TypeInvoiceCreated)
	pick(p.LineAdded != nil, p.LineAdded, TypeInvoiceLineAdded)
	pick(p.LineRemoved != nil, p.LineRemoved, TypeInvoiceLineRemoved)
	pick(p.Issued != nil, p.Issued, TypeInvoiceIssued)
	pick(p.Paid != nil, p.Paid, TypeInvoicePaid)
	pick(p.Voided != nil, p.Voided, TypeInvoiceVoided)
	if n != 1 {
		return nil, "", fmt.Errorf("%w: event payload has %d branches set, want exactly 1", records.ErrBadUnion, n)
	}
	return v, name, nil
}

func (p *EventPayload) set(v any) (string, error) {
	*p = EventPayload{}
	switch b := v.(type) {
	case *InvoiceCreated:
		p.Created = b
		return TypeInvoiceCreated, nil
	case *InvoiceLineAdded:
		p.LineAdded = b
		return TypeInvoiceLineAdded, nil
	case *InvoiceLineRemoved:
		p.LineRemoved = b
		return TypeInvoiceLineRemoved, nil
	case *InvoiceIssued:
		p.Issued = b
		return TypeInvoiceIssued, nil
	case *InvoicePaid:
		p.Paid = b
		return TypeInvoicePaid, nil
	case *InvoiceVoided:
		p.Voided = b
		return TypeInvoiceVoided, nil
	}
	return "", fmt.Errorf("%w: event payload decoded as %T", records.ErrBadUnion, v)
}
