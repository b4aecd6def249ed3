package avrorec

import "github.com/prism-cqrs/prism/records"

// EventDecoder adapts an aggregate's typed event decoder to the
// records.EventDecoder the sink runtime calls: decode, then the generic
// view of the envelope.
func EventDecoder[E any](decode func([]byte) (E, error), view func(E) *records.Event) records.EventDecoder {
	return eventDecoder[E]{decode: decode, view: view}
}

type eventDecoder[E any] struct {
	decode func([]byte) (E, error)
	view   func(E) *records.Event
}

func (d eventDecoder[E]) DecodeEvent(b []byte) (*records.Event, error) {
	e, err := d.decode(b)
	if err != nil {
		return nil, err
	}
	return d.view(e), nil
}

// ResultDecoder adapts an aggregate's typed result decoder to
// records.ResultDecoder.
func ResultDecoder[R any](decode func([]byte) (R, error), view func(R) *records.Result) records.ResultDecoder {
	return resultDecoder[R]{decode: decode, view: view}
}

type resultDecoder[R any] struct {
	decode func([]byte) (R, error)
	view   func(R) *records.Result
}

func (d resultDecoder[R]) DecodeResult(b []byte) (*records.Result, error) {
	r, err := d.decode(b)
	if err != nil {
		return nil, err
	}
	return d.view(r), nil
}

// Shipped lists infos as records.Schema (aggregates.Definition.Schemas, what
// `prism --version` prints), each file named by its path in the repository:
// dir (the aggregate's schemas folder, e.g. "payment/schemas") joined with
// SchemaInfo.File.
func Shipped(dir string, infos []SchemaInfo) []records.Schema {
	out := make([]records.Schema, len(infos))
	for i, s := range infos {
		out[i] = records.Schema{Kind: s.Kind.String(), File: dir + "/" + s.File, Fingerprint: s.Fingerprint, Current: s.Current}
	}
	return out
}
