// Package schematest holds test helpers for payment command envelopes,
// shared by the packages whose tests compare them (payment, producers).
package schematest

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// DiffEnvelope compares two envelopes field by field: "" when equal,
// otherwise what differs (issuedAt compared as instants).
func DiffEnvelope(got, want *schemas.CommandEnvelope) string {
	if !got.IssuedAt.Equal(want.IssuedAt) {
		return fmt.Sprintf("issuedAt %v, want %v", got.IssuedAt, want.IssuedAt)
	}
	g, w := *got, *want
	g.IssuedAt, w.IssuedAt = want.IssuedAt, want.IssuedAt
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("\n got %s\nwant %s", dump(&g), dump(&w))
	}
	return ""
}

func dump(c *schemas.CommandEnvelope) string {
	s := fmt.Sprintf("%+v", *c)
	p := c.Payload
	switch {
	case p.Create != nil:
		s += fmt.Sprintf(" create=%+v", *p.Create)
	case p.Update != nil:
		u := p.Update
		s += " update={"
		if u.AmountMinor != nil {
			s += fmt.Sprintf("amount=%d ", *u.AmountMinor)
		}
		if u.Currency != nil {
			s += "currency=" + *u.Currency + " "
		}
		if u.Description != nil {
			s += "description=" + strconv.Quote(*u.Description)
		}
		s += "}"
	case p.ChangeStatus != nil:
		s += fmt.Sprintf(" status=%+v", *p.ChangeStatus)
	case p.Delete != nil:
		s += fmt.Sprintf(" delete=%+v", *p.Delete)
	}
	if c.ExpectedVersion != nil {
		s += fmt.Sprintf(" expectedVersion=%d", *c.ExpectedVersion)
	}
	return s
}
