package producers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalidUTF8 is a line that is not valid UTF-8. encoding/json would
// replace each invalid byte with U+FFFD and produce a command the file does
// not say; the line is rejected instead.
var ErrInvalidUTF8 = errors.New("not valid UTF-8")

// lineKeys maps the documented keys of a command line, spelled exactly, to
// their bit in checkKeys' set of keys seen.
var lineKeys = func() map[string]uint32 {
	keys := map[string]uint32{}
	t := reflect.TypeFor[CommandLine]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		keys[name] = 1 << i
	}
	return keys
}()

// checkKeys rejects what encoding/json lets through silently in a line it
// decoded: a key that matches a documented one only case-insensitively
// (`PaymentId` would fill paymentId) and a key given twice (the last one
// would win). line must be one JSON object that encoding/json decoded
// without error: the scan below relies on it being well-formed.
func checkKeys(line []byte) error {
	var seen uint32
	i := bytes.IndexByte(line, '{') + 1
	for {
		i = skipSpace(line, i)
		if i >= len(line) || line[i] != '"' {
			return nil // '}': the end of the object
		}
		end := endOfString(line, i)
		raw := line[i+1 : end-1]
		bit, ok := lineKeys[string(raw)]
		if !ok || bytes.IndexByte(raw, '\\') >= 0 {
			var key string
			if err := json.Unmarshal(line[i:end], &key); err != nil {
				return fmt.Errorf("%w: %s", ErrInvalidJSON, err)
			}
			if bit, ok = lineKeys[key]; !ok {
				return unknownKey(key)
			}
		}
		if seen&bit != 0 {
			return &FieldError{Field: string(raw), Reason: "given twice"}
		}
		seen |= bit
		i = skipValue(line, skipSpace(line, end)+1) // past the ':' and the value
	}
}

// unknownKey is the error for a key that is not documented: encoding/json
// matched it to a field case-insensitively.
func unknownKey(key string) error {
	for k := range lineKeys {
		if strings.EqualFold(k, key) {
			return &FieldError{Field: key, Reason: fmt.Sprintf("unknown field (keys are case-sensitive: %q)", k)}
		}
	}
	return &FieldError{Field: key, Reason: "unknown field"}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index just past the string starting at b[i] ('"').
func endOfString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at or after
// b[i] and the ',' that follows it (or at the object's closing '}').
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = endOfString(b, i)
			continue
		case '{', '[':
			depth++
		case ']':
			depth--
		case '}':
			if depth == 0 {
				return i
			}
			depth--
		case ',':
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

// checkEncoding rejects a line that is not valid UTF-8, or whose string
// escapes hold an unpaired surrogate (`"\ud800"`, which encoding/json also
// turns into U+FFFD).
func checkEncoding(line []byte) error {
	if !utf8.Valid(line) {
		return ErrInvalidUTF8
	}
	for i := bytes.IndexByte(line, '\\'); i >= 0 && i+1 < len(line); {
		next := i + 2 // past a two-character escape
		if line[i+1] == 'u' {
			r, ok := hex4(line, i+2)
			if ok && r >= 0xD800 && r <= 0xDFFF {
				lo, ok2 := rune(0), false
				if r <= 0xDBFF && i+7 < len(line) && line[i+6] == '\\' && line[i+7] == 'u' {
					lo, ok2 = hex4(line, i+8)
				}
				if !ok2 || lo < 0xDC00 || lo > 0xDFFF {
					return fmt.Errorf("%w: the escape %s is an unpaired surrogate", ErrInvalidUTF8, line[i:i+6])
				}
				next = i + 12
			} else {
				next = i + 6
			}
		}
		j := bytes.IndexByte(line[min(next, len(line)):], '\\')
		if j < 0 {
			break
		}
		i = min(next, len(line)) + j
	}
	return nil
}

// hex4 reads the four hex digits at b[at:].
func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return rune(v), err == nil
}
