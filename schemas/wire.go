package schemas

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// The Go envelopes carry their payload union as a struct with one pointer per
// branch (tagged avro:"-"). On the wire the union is an Avro union of named
// records; these wire structs embed the envelope and add the union as an
// interface holding the branch pointer, which hamba/avro encodes by the
// pointer's registered name and decodes into a new value of the registered
// type.
type commandWire struct {
	CommandEnvelope
	Payload any `avro:"payload"`
}

type eventWire struct {
	EventEnvelope
	Payload any `avro:"payload"`
}

// registerUnionBranches registers the union branch types on the codec's own
// frozen API (never the package-level avro registry).
func registerUnionBranches(api avro.API) {
	api.Register(Namespace+"."+TypeCreatePayment, &CreatePayment{})
	api.Register(Namespace+"."+TypeUpdatePayment, &UpdatePayment{})
	api.Register(Namespace+"."+TypeChangePaymentStatus, &ChangePaymentStatus{})
	api.Register(Namespace+"."+TypeDeletePayment, &DeletePayment{})
	api.Register(Namespace+"."+TypePaymentCreated, &PaymentCreated{})
	api.Register(Namespace+"."+TypePaymentUpdated, &PaymentUpdated{})
	api.Register(Namespace+"."+TypePaymentStatusChanged, &PaymentStatusChanged{})
	api.Register(Namespace+"."+TypePaymentDeleted, &PaymentDeleted{})
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
		return nil, "", fmt.Errorf("%w: command payload has %d branches set, want exactly 1", ErrBadUnion, n)
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
		return nil, "", fmt.Errorf("%w: event payload has %d branches set, want exactly 1", ErrBadUnion, n)
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
		return "", fmt.Errorf("%w: command payload decoded as %T", ErrBadUnion, v)
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
		return "", fmt.Errorf("%w: event payload decoded as %T", ErrBadUnion, v)
	}
}
