package producers

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// MaxLineBytes bounds one JSON Lines command; a longer line is reported as
// invalid (and the rest of it skipped) rather than read into memory.
const MaxLineBytes = 1 << 20

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Parsed is a valid command line and its 1-based line number.
type Parsed struct {
	Line    int
	Command *schemas.CommandEnvelope
}

// LineError is an invalid line: its 1-based number and why.
type LineError struct {
	Line int
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e LineError) Unwrap() error { return e.Err }

// ReadJSONL parses every line of r. Blank lines are skipped but counted, so
// line numbers match what an editor shows; a UTF-8 byte order mark at the
// start is ignored; lines may end in \n or \r\n. Every invalid line is reported;
// parsing does not stop at the first. The error is only for failing to read
// r (what was parsed before the failure is returned with it).
func ReadJSONL(r io.Reader) ([]Parsed, []LineError, error) {
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
		cmd, err := ParseCommandLine(line)
		if err != nil {
			bad = append(bad, LineError{Line: n, Err: err})
			continue
		}
		ok = append(ok, Parsed{Line: n, Command: cmd})
	}
}
