package producers

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/prism-cqrs/prism/producers/jsonl"
	"github.com/prism-cqrs/prism/records"
)

// FieldError says which field of a command line is wrong and why.
type FieldError = jsonl.FieldError

// ErrInvalidJSON wraps a line that is not one JSON object; ErrInvalidUTF8
// a line that is not valid UTF-8 (jsonl).
var (
	ErrInvalidJSON = jsonl.ErrInvalidJSON
	ErrInvalidUTF8 = jsonl.ErrInvalidUTF8
)

// CommandSet is the command types a JSON Lines file may hold and the
// codecs of the aggregates that own them: a line's `type` picks the codec
// that parses it.
type CommandSet struct {
	byType map[string]records.CommandCodec
	types  []string
}

// NewCommandSet indexes codecs by their command types; no two may own the
// same type.
func NewCommandSet(codecs ...records.CommandCodec) (*CommandSet, error) {
	s := &CommandSet{byType: map[string]records.CommandCodec{}}
	for _, c := range codecs {
		if c == nil {
			return nil, fmt.Errorf("command set: nil codec")
		}
		for _, t := range c.CommandTypes() {
			if _, ok := s.byType[t]; ok {
				return nil, fmt.Errorf("command set: two codecs own the command type %q", t)
			}
			s.byType[t] = c
			s.types = append(s.types, t)
		}
	}
	if len(s.types) == 0 {
		return nil, fmt.Errorf("command set: no command type")
	}
	return s, nil
}

// Types lists the known command types, codec by codec in the order given.
func (s *CommandSet) Types() []string { return s.types }

// Codec returns the codec owning the command type typ.
func (s *CommandSet) Codec(typ string) (records.CommandCodec, bool) {
	c, ok := s.byType[typ]
	return c, ok
}

// Parse parses one JSON Lines command with the codec its `type` picks. A
// line without a usable type fails as the codec's would (not UTF-8, not
// one JSON object, `field type: required`); an unknown type is
// `field type: unknown command type "X" (want A, B, C or D)`, naming every
// known type.
func (s *CommandSet) Parse(line []byte) (records.Command, error) {
	typ, err := jsonl.TypeOf(line)
	if err != nil {
		return nil, err
	}
	c, ok := s.byType[string(typ)]
	if !ok {
		if err := jsonl.Check(line); err != nil {
			return nil, err
		}
		return nil, &FieldError{Field: "type", Reason: fmt.Sprintf("unknown command type %q (want %s)", typ, typeList(s.types))}
	}
	return c.ParseCommand(line)
}

// MaxLineBytes bounds one JSON Lines command; a longer line is reported as
// invalid (and the rest of it skipped) rather than read into memory.
const MaxLineBytes = 1 << 20

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Parsed is a valid command line and its 1-based line number.
type Parsed struct {
	Line    int
	Command records.Command
}

// LineError is an invalid line: its 1-based number and why.
type LineError struct {
	Line int
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e LineError) Unwrap() error { return e.Err }

// ReadJSONL parses every line of r, each with the codec of set its `type`
// picks (CommandSet.Parse), so one file may hold commands of several
// aggregates. Blank lines are skipped but counted, so
// line numbers match what an editor shows; a UTF-8 byte order mark at the
// start is ignored; lines may end in \n or \r\n. Every invalid line is reported;
// parsing does not stop at the first. The error is only for failing to read
// r (what was parsed before the failure is returned with it).
func ReadJSONL(r io.Reader, set *CommandSet) ([]Parsed, []LineError, error) {
	var (
		ok   []Parsed
		bad  []LineError
		n    int
		br   = bufio.NewReaderSize(r, 64<<10)
		line []byte
	)
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err == io.EOF {
			return ok, bad, nil
		}
		if err != nil {
			return ok, bad, fmt.Errorf("read line %d: %w", n+1, err)
		}
		line = append(line[:0], chunk...)
		tooLong := false
		for isPrefix {
			chunk, isPrefix, err = br.ReadLine()
			if err != nil && err != io.EOF {
				return ok, bad, fmt.Errorf("read line %d: %w", n+1, err)
			}
			if !tooLong {
				line = append(line, chunk...)
				if len(line) > MaxLineBytes {
					tooLong = true
				}
			}
			if err == io.EOF {
				break
			}
		}
		n++
		if n == 1 {
			line = bytes.TrimPrefix(line, utf8BOM) // files saved by some Windows editors
		}
		if tooLong {
			bad = append(bad, LineError{Line: n, Err: fmt.Errorf("%w: line longer than %d bytes", ErrInvalidJSON, MaxLineBytes)})
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		cmd, err := set.Parse(line)
		if err != nil {
			bad = append(bad, LineError{Line: n, Err: err})
			continue
		}
		ok = append(ok, Parsed{Line: n, Command: cmd})
	}
}
