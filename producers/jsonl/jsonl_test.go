package jsonl

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
