package jsonl

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTypeOf(t *testing.T) {
	for _, tc := range []struct {
		line, typ, err string
	}{
		{`{"type":"A","x":1}`, "A", ""},
		{` { "x" : {"type":"B"} , "y":[1,"}"], "type" : "C" } `, "C", ""},
		{`{"x":"\"type\":\"D\"","type":"E"}`, "E", ""},
		{`{"TYPE":"F"}`, "F", ""}, // encoding/json's case-insensitive match: the codec then rejects the key
		{`{"typ\u0065":"G"}`, "G", ""},
		{`{"type":"H\u0041"}`, "HA", ""},
		{`{"x":1}`, "", "field type: required"},
		{`{"type":"  "}`, "", "field type: required"},
		{`{"type":5}`, "", "field type: must be a string, got a JSON number"},
		{`[1,2]`, "", "invalid JSON: cannot unmarshal array, want one JSON object"},
		{``, "", "invalid JSON: empty line"},
		{`{"x":1} {}`, "", "invalid JSON: more than one JSON value on the line"},
		{"{\"x\":\"caf\xe9\"}", "", "not valid UTF-8"},
		{"{\"type\":\"\xd7\"}", "", "not valid UTF-8"}, // the scan leaves a type that is not UTF-8 to the decoder
		{`type=A`, "", "invalid JSON: invalid character"},
	} {
		typ, err := TypeOf([]byte(tc.line))
		if tc.err == "" {
			if err != nil || string(typ) != tc.typ {
				t.Errorf("TypeOf(%s) = %q, %v; want %q", tc.line, typ, err, tc.typ)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("TypeOf(%s) = %q, %v; want the error %q", tc.line, typ, err, tc.err)
		}
	}
}

// FuzzTypeOfScan: on a valid JSON object with at most one "type" key, the
// fast scan agrees with encoding/json.
func FuzzTypeOfScan(f *testing.F) {
	for _, s := range []string{`{"type":"A"}`, `{"a":{"type":"x"},"type":"B"}`, `{"a":"\\","type":"C"}`, `{"type" :"D" }`, `{"a":[{"b":"}"}],"type":"E"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		typ, ok := scanType([]byte(line))
		if !ok || !json.Valid([]byte(line)) || strings.Count(line, `"type"`) > 1 {
			return
		}
		var v struct {
			Type *string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return
			}
			t.Fatalf("%s: %v", line, err)
		}
		if v.Type == nil || *v.Type != string(typ) {
			t.Fatalf("%s: scan %q, encoding/json %v", line, typ, v.Type)
		}
	})
}

// fuzzLine is a command line of the kinds of field the aggregates use.
type fuzzLine struct {
	Type  string    `json:"type"`
	ID    string    `json:"someId"`
	Text  *string   `json:"text,omitempty"`
	Num   *int64    `json:"amountMinor,omitempty"`
	Items *[]string `json:"items,omitempty"`
}

// topLevelKeys walks a valid JSON object with encoding/json's tokenizer and
// returns its keys, decoded, in order.
func topLevelKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(line)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q: accepted, but not an object: %v %v", line, tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	return keys
}

// FuzzObjectDecode: a line Object.Decode accepts is one JSON object in
// valid UTF-8 whose keys, each given once, are the documented ones spelled
// exactly (checked with encoding/json's tokenizer, not the scan Decode
// uses), and the value decoded re-encodes to a line that decodes to the
// same value. A line it rejects gets a *FieldError naming a field and a
// reason, or wraps ErrInvalidJSON or ErrInvalidUTF8.
func FuzzObjectDecode(f *testing.F) {
	obj := NewObject[fuzzLine](nil)
	for _, s := range []string{
		`{"type":"A","someId":"x","text":"t","amountMinor":5,"items":["a","b"]}`,
		`{"type":"A","someId":"x","someId":"y"}`, `{"type":"A","SomeId":"x"}`, `{"type":"A","some\u0049d":"x"}`,
		`{"type":"A","text":"a,\"b\"}{","Text":"x"}`, `{"items":[{"x":1}]}`, `{"":1}`, `{"amountMinor":1.5}`,
		"{\"text\":\"\\ud800\"}", "{\"text\":\"caf\xe9\"}", `{} {}`, ` {"type" : "A" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var v fuzzLine
		err := obj.Decode(line, &v)
		if err != nil {
			var fe *FieldError
			switch {
			case errors.As(err, &fe):
				if fe.Field == "" || fe.Reason == "" {
					t.Fatalf("%q: field error without field or reason: %v", line, err)
				}
			case errors.Is(err, ErrInvalidJSON), errors.Is(err, ErrInvalidUTF8):
			default:
				t.Fatalf("%q: error says neither the field nor the JSON: %v", line, err)
			}
			return
		}
		if !utf8.Valid(line) || !json.Valid(line) {
			t.Fatalf("accepted %q: not valid UTF-8 JSON", line)
		}
		seen := map[string]bool{}
		for _, k := range topLevelKeys(t, line) {
			if _, ok := obj.keys[k]; !ok || seen[k] {
				t.Fatalf("accepted %q: key %q unknown or given twice", line, k)
			}
			seen[k] = true
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back fuzzLine
		if err := obj.Decode(again, &back); err != nil || !reflect.DeepEqual(back, v) {
			t.Fatalf("%q decodes to %+v; written back as %s it decodes to %+v, %v", line, v, again, back, err)
		}
	})
}
