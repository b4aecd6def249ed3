// Package jsonl holds the aggregate-independent rules of Prism's JSON Lines
// command format (docs/producers.md): strict UTF-8, one JSON object per line,
// case-sensitive keys each given once, unknown keys rejected, and the errors
// that name the offending field. An aggregate's records.CommandCodec decodes
// its command lines with an Object; the producer's reader (producers.ReadJSONL)
// uses TypeOf to pick the aggregate.
package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError says which field of a command line is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "field " + e.Field + ": " + e.Reason }

// ErrInvalidJSON wraps a line that is not one JSON object.
var ErrInvalidJSON = errors.New("invalid JSON")

// ErrInvalidUTF8 is a line that is not valid UTF-8. encoding/json would
// replace each invalid byte with U+FFFD and produce a command the file does
// not say; the line is rejected instead.
var ErrInvalidUTF8 = errors.New("not valid UTF-8")

// Object is one kind of JSON Lines object: the documented keys, spelled
// exactly, of a struct whose json tags name them (at most 64).
type Object struct {
	keys      map[string]uint64
	wrongType func(field, jsonType string) (reason string, ok bool)
}

// NewObject describes the lines decoded into a T (a struct). wrongType,
// when not nil, may give the reason for a field holding a JSON value of
// the wrong type (jsonType is "number", "string", "bool", "array" or
// "object"), such as a hint on the expected form; ok false keeps the
// generic "must be a string, got a JSON number".
func NewObject[T any](wrongType func(field, jsonType string) (reason string, ok bool)) *Object {
	t := reflect.TypeFor[T]()
	if t.NumField() > 64 {
		panic(fmt.Sprintf("jsonl: %s has more than 64 fields", t))
	}
	keys := map[string]uint64{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		keys[name] = 1 << i
	}
	return &Object{keys: keys, wrongType: wrongType}
}

// Decode decodes line, one JSON object, into v (a *T of NewObject). It
// rejects a line that is not valid UTF-8 (ErrInvalidUTF8), that is not a
// single JSON object (ErrInvalidJSON), and with a *FieldError a key that is
// not documented (also one that matches only case-insensitively), a key
// given twice and a value of the wrong JSON type.
func (o *Object) Decode(line []byte, v any) error {
	if err := CheckEncoding(line); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return o.jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: more than one JSON value on the line", ErrInvalidJSON)
	}
	return o.checkKeys(line)
}

// TypeOf returns the value of the line's "type" key (a slice of line when
// found by the scan: read-only), for picking the
// aggregate whose codec parses the line. ok is false when the line has no
// usable type (not UTF-8, not one JSON object, no "type" key or a blank
// one, or a type that is not a JSON string); err then says why, with the
// same messages as Decode (a missing type is "field type: required").
// The common case — a well-formed line whose first "type" key is written
// exactly — is found by a scan that does not decode the line.
func TypeOf(line []byte) (typ []byte, err error) {
	if t, ok := scanType(line); ok {
		return t, nil
	}
	t, err := decodeType(line)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(t) == "" {
		return nil, &FieldError{Field: "type", Reason: "required"}
	}
	return []byte(t), nil
}

// Check reports what makes line something other than one JSON object in
// valid UTF-8 whose "type", if any, is a string (nil when it is one), with
// the messages of Decode.
func Check(line []byte) error {
	_, err := decodeType(line)
	return err
}

func decodeType(line []byte) (string, error) {
	if err := CheckEncoding(line); err != nil {
		return "", err
	}
	var v struct {
		Type string `json:"type"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&v); err != nil {
		return "", typeObject.jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", fmt.Errorf("%w: more than one JSON value on the line", ErrInvalidJSON)
	}
	return v.Type, nil
}

var typeObject = &Object{}

// scanType finds `"type":"<no escape>"` as a key of the top-level object
// without decoding. It may accept a malformed line: the codec's Decode
// then reports what is wrong with it.
func scanType(line []byte) ([]byte, bool) {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipSpace(line, i)
		if i >= len(line) || line[i] != '"' {
			return nil, false
		}
		end := endOfString(line, i)
		key := line[i+1 : max(end-1, i+1)]
		j := skipSpace(line, end)
		if j >= len(line) || line[j] != ':' {
			return nil, false
		}
		if string(key) == "type" {
			j = skipSpace(line, j+1)
			if j >= len(line) || line[j] != '"' {
				return nil, false
			}
			vend := endOfString(line, j)
			val := line[j+1 : max(vend-1, j+1)]
			// An escape, a blank type or one that is not UTF-8: TypeOf
			// decodes the line, which says what is wrong.
			if bytes.IndexByte(val, '\\') >= 0 || len(bytes.TrimSpace(val)) == 0 || !utf8.Valid(val) {
				return nil, false
			}
			return val, true
		}
		i = skipValue(line, skipSpace(line, j+1))
		if i > 0 && i <= len(line) && line[i-1] != ',' {
			return nil, false // the end of the object: no type key
		}
	}
}

// jsonError turns encoding/json errors into field errors where it can.
func (o *Object) jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		if o.wrongType != nil {
			if reason, ok := o.wrongType(te.Field, te.Value); ok {
				return &FieldError{Field: te.Field, Reason: reason}
			}
		}
		want := "a string"
		switch te.Type.String() {
		case "int64", "*int64":
			want = "an integer"
		}
		return &FieldError{Field: te.Field, Reason: fmt.Sprintf("must be %s, got a JSON %s", want, te.Value)}
	}
	if errors.As(err, &te) {
		return fmt.Errorf("%w: cannot unmarshal %s, want one JSON object", ErrInvalidJSON, te.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		key, err := strconv.Unquote(f) // encoding/json quotes the key with %q
		if err != nil {
			key = strings.Trim(f, `"`)
		}
		return o.unknownKey(key)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: empty line", ErrInvalidJSON)
	}
	return fmt.Errorf("%w: %s", ErrInvalidJSON, strings.TrimPrefix(msg, "json: "))
}

// checkKeys rejects what encoding/json lets through silently in a line it
// decoded: a key that matches a documented one only case-insensitively
// (`PaymentId` would fill paymentId) and a key given twice (the last one
// would win). line must be one JSON object that encoding/json decoded
// without error: the scan below relies on it being well-formed.
func (o *Object) checkKeys(line []byte) error {
	var seen uint64
	i := bytes.IndexByte(line, '{') + 1
	for {
		i = skipSpace(line, i)
		if i >= len(line) || line[i] != '"' {
			return nil // '}': the end of the object
		}
		end := endOfString(line, i)
		raw := line[i+1 : end-1]
		bit, ok := o.keys[string(raw)]
		if !ok || bytes.IndexByte(raw, '\\') >= 0 {
			var key string
			if err := json.Unmarshal(line[i:end], &key); err != nil {
				return fmt.Errorf("%w: %s", ErrInvalidJSON, err)
			}
			if bit, ok = o.keys[key]; !ok {
				return o.unknownKey(key)
			}
		}
		if seen&bit != 0 {
			return &FieldError{Field: string(raw), Reason: "given twice"}
		}
		seen |= bit
		i = skipValue(line, skipSpace(line, end)+1) // past the ':' and the value
	}
}

// unknownKey is the error for a key that is not documented (encoding/json
// may have matched it to a field case-insensitively). The empty key is
// named `""`, so the message still says which key is wrong.
func (o *Object) unknownKey(key string) error {
	if key == "" {
		return &FieldError{Field: `""`, Reason: "unknown field (an empty key)"}
	}
	for k := range o.keys {
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

// CheckEncoding rejects a line that is not valid UTF-8, or whose string
// escapes hold an unpaired surrogate (`"\ud800"`, which encoding/json also
// turns into U+FFFD).
func CheckEncoding(line []byte) error {
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
