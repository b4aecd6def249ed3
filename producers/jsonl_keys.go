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

// lineKeys are the documented keys of a command line, spelled exactly.
var lineKeys = func() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeFor[CommandLine]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		keys[name] = true
	}
	return keys
}()

// checkKeys rejects what encoding/json lets through silently in a line it
// decoded: a key that matches a documented one only case-insensitively
// (`PaymentId` would fill paymentId) and a key given twice (the last one
// would win). line is one JSON object, already decoded without error.
func checkKeys(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil { // '{'
		return fmt.Errorf("%w: %s", ErrInvalidJSON, err)
	}
	seen := make(map[string]bool, 16)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %s", ErrInvalidJSON, err)
		}
		key, _ := tok.(string)
		if !lineKeys[key] {
			for k := range lineKeys {
				if strings.EqualFold(k, key) {
					return &FieldError{Field: key, Reason: fmt.Sprintf("unknown field (keys are case-sensitive: %q)", k)}
				}
			}
			return &FieldError{Field: key, Reason: "unknown field"}
		}
		if seen[key] {
			return &FieldError{Field: key, Reason: "given twice"}
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("%w: %s", ErrInvalidJSON, err)
		}
	}
	return nil
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
