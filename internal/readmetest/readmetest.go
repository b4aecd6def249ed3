// Package readmetest reads the repository's README.md for the tests that
// hold its documented formats (tables, JSON examples) to the code.
package readmetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Read returns the README.md of the module root: the nearest directory,
// from the test's working directory up, that holds go.mod.
func Read(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	raw, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// nextHeading is the start of a level 2 or 3 heading.
var nextHeading = regexp.MustCompile(`\n#{2,3} `)

// Section returns the README's section whose heading line starts with
// heading ("### Redis (prefix"), up to the next level 2 or 3 heading.
func Section(t testing.TB, heading string) string {
	t.Helper()
	s := Read(t)
	i := strings.Index(s, "\n"+heading)
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	s = s[i+1:]
	if j := nextHeading.FindStringIndex(s[len(heading):]); j != nil {
		s = s[:len(heading)+j[0]]
	}
	return s
}

// JSONExample returns the body of the first ```json block of sec.
func JSONExample(t testing.TB, sec string) string {
	t.Helper()
	start := strings.Index(sec, "```json\n")
	if start < 0 {
		t.Fatal("no JSON example in the README section")
	}
	end := strings.Index(sec[start+8:], "```")
	if end < 0 {
		t.Fatal("no end to the JSON example in the README section")
	}
	return sec[start+8 : start+8+end]
}

// DecodeStrict decodes the JSON example into out, failing the test on a
// field out does not have.
func DecodeStrict(t testing.TB, example string, out any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("README example document: %v", err)
	}
}
