package producers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/invoice"
	invoiceschemas "github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

// fuzzAggregates are the shipped aggregates' definitions.
func fuzzAggregates(t testing.TB) []*aggregates.Definition {
	t.Helper()
	var defs []*aggregates.Definition
	for _, def := range []func() (*aggregates.Definition, error){payment.Definition, invoice.Definition} {
		d, err := def()
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, d)
	}
	return defs
}

// fuzzFile is a JSON Lines file of every aggregate as the generators write
// it (`prism produce --generate --out`), faults included.
func fuzzFile(t testing.TB, defs []*aggregates.Definition, count int) []byte {
	t.Helper()
	var buf bytes.Buffer
	cfg := records.GeneratorConfig{Count: count, Organizations: 2, Seed: 13, InvalidRatio: 0.2, IDPrefix: "fz",
		Start: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Interval: time.Second}
	for _, d := range defs {
		src, err := d.Generator.Generate(cfg, &buf, false)
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, ok, err := src()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
		}
	}
	return buf.Bytes()
}

// FuzzReadJSONL feeds arbitrary files to ReadJSONL with the command set of
// every aggregate, as `prism produce` reads them. Reading bytes never
// fails; every line that is not blank is either a command or an error that
// names the field, the JSON or the encoding, at its 1-based line number,
// in order; each is what CommandSet.Parse says of that line alone (the
// reader splits lines as an editor shows them: \n or \r\n, a byte order
// mark at the start ignored); and each command, encoded as the producer
// sends it, decodes in its aggregate's processor to the command sent.
func FuzzReadJSONL(f *testing.F) {
	defs := fuzzAggregates(f)
	var codecs []records.CommandCodec
	procs := map[string]processors.Aggregate{} // by command type
	for _, d := range defs {
		codecs = append(codecs, d.Commands)
		a, err := d.NewProcessor(aggregates.ProcessorOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			f.Fatal(err)
		}
		for _, typ := range d.Commands.CommandTypes() {
			procs[typ] = a
		}
	}
	set, err := NewCommandSet(codecs...)
	if err != nil {
		f.Fatal(err)
	}
	file := fuzzFile(f, defs, 40)
	f.Add(file)
	for _, l := range bytes.SplitAfter(file, []byte("\n")) {
		f.Add(l)
	}
	f.Add(append([]byte("\xef\xbb\xbf"), bytes.ReplaceAll(file[:bytes.IndexByte(file, '\n')+1], []byte("\n"), []byte("\r\n"))...))
	f.Add([]byte("\n\n  \r\n{\"type\":\"CreateWidget\"}\r\n{\"type\":5}\n[1]\n{\"type\":\"IssueInvoice\"} {}"))
	sent := time.Date(2026, 12, 4, 11, 0, 0, 123_456_789, time.UTC) // when a line has no issuedAt
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, bad, err := ReadJSONL(bytes.NewReader(data), set)
		if err != nil {
			t.Fatalf("reading bytes: %v", err)
		}
		lines := splitLines(data)
		want := map[int]error{} // the lines that are not blank: the error of each, nil for a command
		cmds := map[int]records.Command{}
		for i, line := range lines {
			n := i + 1
			switch {
			case len(line) > MaxLineBytes:
				want[n] = fmt.Errorf("%w: line longer than %d bytes", ErrInvalidJSON, MaxLineBytes)
			case len(bytes.TrimSpace(line)) == 0:
			default:
				cmds[n], want[n] = set.Parse(line)
			}
		}
		prev := 0
		for _, p := range parsed {
			if p.Line <= prev {
				t.Fatalf("command at line %d after line %d", p.Line, prev)
			}
			prev = p.Line
			if e, ok := want[p.Line]; !ok || e != nil {
				t.Fatalf("line %d read as a command (%+v); on its own: %v", p.Line, p.Command, e)
			}
			if !sameCommand(p.Command, cmds[p.Line]) {
				t.Fatalf("line %d read as %+v; on its own %+v", p.Line, p.Command, cmds[p.Line])
			}
			delete(want, p.Line)
			checkSent(t, set, p, sent, procs)
		}
		prev = 0
		for _, b := range bad {
			if b.Line <= prev {
				t.Fatalf("error at line %d after line %d", b.Line, prev)
			}
			prev = b.Line
			e, ok := want[b.Line]
			if !ok || e == nil || e.Error() != b.Err.Error() {
				t.Fatalf("line %d: %v; on its own: %v", b.Line, b.Err, e)
			}
			var fe *FieldError
			if !errors.As(b.Err, &fe) && !errors.Is(b.Err, ErrInvalidJSON) && !errors.Is(b.Err, ErrInvalidUTF8) {
				t.Fatalf("line %d: the error says neither the field nor the JSON: %v", b.Line, b.Err)
			}
			if fe != nil && (fe.Field == "" || fe.Reason == "") {
				t.Fatalf("line %d: field error without field or reason: %v", b.Line, b.Err)
			}
			delete(want, b.Line)
		}
		for n, e := range want {
			t.Fatalf("line %d neither read nor reported (on its own: %v)", n, e)
		}
	})
}

// splitLines splits data as an editor shows it: lines end in \n or \r\n,
// a last line may have no end, a UTF-8 byte order mark at the start is not
// part of the first line.
func splitLines(data []byte) [][]byte {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(data) == 0 {
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the file ends with a line end
	}
	for i := range lines {
		if i < len(lines)-1 || data[len(data)-1] == '\n' {
			lines[i] = bytes.TrimSuffix(lines[i], []byte("\r"))
		}
	}
	return lines
}

// sameCommand reports whether a and b are the same command, but for the
// command and correlation ids each generated when the line has none.
func sameCommand(a, b records.Command) bool {
	ids := func(x, y *string) {
		if *x != *y && uuid.Validate(*x) == nil && uuid.Validate(*y) == nil {
			*y = *x
		}
	}
	switch a := a.(type) {
	case *schemas.CommandEnvelope:
		b, ok := b.(*schemas.CommandEnvelope)
		if !ok {
			return false
		}
		c := *b
		ids(&a.CommandID, &c.CommandID)
		ids(&a.CorrelationID, &c.CorrelationID)
		return reflect.DeepEqual(a, &c)
	case *invoiceschemas.CommandEnvelope:
		b, ok := b.(*invoiceschemas.CommandEnvelope)
		if !ok {
			return false
		}
		c := *b
		ids(&a.CommandID, &c.CommandID)
		ids(&a.CorrelationID, &c.CorrelationID)
		return reflect.DeepEqual(a, &c)
	}
	return false
}

// checkSent encodes p's command as the producer sends it and decodes the
// record in the processor of its type: it must be the command sent, keyed
// by its aggregate id.
func checkSent(t *testing.T, set *CommandSet, p Parsed, now time.Time, procs map[string]processors.Aggregate) {
	t.Helper()
	meta := p.Command.CommandMeta()
	codec, ok := set.Codec(meta.Type)
	if !ok {
		t.Fatalf("line %d: type %q has no codec", p.Line, meta.Type)
	}
	enc, err := codec.EncodeCommand(p.Command, now)
	if err != nil {
		t.Fatalf("line %d: the command read does not encode: %v", p.Line, err)
	}
	got, err := procs[meta.Type].DecodeCommand(&kgo.Record{Key: []byte(enc.Meta.AggregateID), Value: enc.Value})
	if err != nil || !reflect.DeepEqual(got, enc.Command) {
		t.Fatalf("line %d: sent as %+v, the processor decodes %+v, %v", p.Line, enc.Command, got, err)
	}
}
