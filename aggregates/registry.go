package aggregates

import (
	"errors"
	"fmt"
	"strings"
)

// Registry is the ordered set of aggregates one binary serves. It is built
// once at start (cmd/prism/aggregates.go) and never changed after.
type Registry struct {
	defs []*Definition
}

// NewRegistry checks every definition and that no two share a name or a
// plural.
func NewRegistry(defs ...*Definition) (*Registry, error) {
	var errs []error
	seen := map[string]string{}
	for _, d := range defs {
		if err := d.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range []string{d.Name, d.Plural} {
			if other, ok := seen[n]; ok && other != d.Name {
				errs = append(errs, fmt.Errorf("aggregates %q and %q both use the name %q", other, d.Name, n))
			}
			seen[n] = d.Name
		}
	}
	owner := map[string]string{}
	for _, d := range defs {
		if d.Commands == nil {
			continue
		}
		for _, t := range d.Commands.CommandTypes() {
			if other, ok := owner[t]; ok && other != d.Name {
				errs = append(errs, fmt.Errorf("aggregates %q and %q both own the command type %q", other, d.Name, t))
			}
			owner[t] = d.Name
		}
	}
	if len(defs) == 0 {
		errs = append(errs, errors.New("no aggregate registered"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Registry{defs: defs}, nil
}

// All returns the registered aggregates in registration order.
func (r *Registry) All() []*Definition { return r.defs }

// Names lists the singular names, in registration order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.defs))
	for i, d := range r.defs {
		out[i] = d.Name
	}
	return out
}

// Lookup finds an aggregate by its singular or plural name.
func (r *Registry) Lookup(name string) (*Definition, bool) {
	for _, d := range r.defs {
		if d.Name == name || d.Plural == name {
			return d, true
		}
	}
	return nil, false
}

// Select returns the aggregates named (all of them when names is empty),
// or an error naming the unknown ones and the known ones.
func (r *Registry) Select(names []string) ([]*Definition, error) {
	if len(names) == 0 {
		return r.defs, nil
	}
	var out []*Definition
	var unknown []string
	for _, n := range names {
		d, ok := r.Lookup(n)
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		out = append(out, d)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown aggregate %s (known: %s)", strings.Join(unknown, ", "), strings.Join(r.Names(), ", "))
	}
	return out, nil
}

// Constructor builds one aggregate's Definition (payment.Definition).
type Constructor func() (*Definition, error)

// Build calls every constructor and registers the definitions in order.
func Build(ctors ...Constructor) (*Registry, error) {
	defs := make([]*Definition, 0, len(ctors))
	for _, c := range ctors {
		d, err := c()
		if err != nil {
			return nil, err
		}
		defs = append(defs, d)
	}
	return NewRegistry(defs...)
}
