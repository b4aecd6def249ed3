package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// TestVersionFlag checks that `prism --version` names the Go version it was
// built with and the fingerprint of every shipped schema, as Apache Avro's
// Java reference computes it (payment/schemas/testdata/avro_java_fingerprints.jsonl,
// written by interop/java and checked against Java by TestJavaInterop).
func TestVersionFlag(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	out, code := runPrismOut(ctx, t, os.Environ(), "--version")
	if code != 0 {
		t.Fatalf("prism --version: exit %d\n%s", code, out)
	}
	// The test and the binary are built by the same toolchain.
	if !strings.Contains(out, runtime.Version()) {
		t.Errorf("--version lacks the Go version %s:\n%s", runtime.Version(), out)
	}
	ref, err := os.ReadFile(filepath.Join("..", "payment", "schemas", "testdata", "avro_java_fingerprints.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(ref)), "\n") {
		var row struct{ File, Fingerprint string }
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("reference line %q: %v", l, err)
		}
		n++
		want := "payment/schemas/avro/" + row.File + "  " // the file, then its fingerprint on the same line
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, want) {
				line = l
			}
		}
		if !strings.Contains(line, row.Fingerprint) {
			t.Errorf("--version: %s should show fingerprint %s, line %q in:\n%s", row.File, row.Fingerprint, line, out)
		}
	}
	if n < 4 {
		t.Fatalf("reference lists %d schemas, want at least 4", n)
	}
}

// TestShellCompletion checks what `prism completion` makes the shell offer:
// the sink names after `prism sink` and the values of enumerated flags.
func TestShellCompletion(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"sink", ""}, topology.SinkNames},
		{[]string{"--log-level", ""}, []string{"debug", "info", "warn", "error"}},
		{[]string{"--log-format", ""}, []string{"text", "json"}},
		{[]string{"topology", "describe", "--format", ""}, []string{"text", "mermaid"}},
		{[]string{"--kafka-sasl-mechanism", ""}, []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}},
	} {
		out, code := runPrismOut(ctx, t, os.Environ(), append([]string{"__complete"}, tc.args...)...)
		if code != 0 {
			t.Errorf("prism __complete %q: exit %d\n%s", tc.args, code, out)
			continue
		}
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
				got = append(got, l)
			}
		}
		want := slices.Clone(tc.want)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("prism __complete %q offers %q, want %q", tc.args, got, want)
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, code := runPrismOut(ctx, t, os.Environ(), "completion", shell)
		if code != 0 || !strings.Contains(out, "prism") {
			t.Errorf("prism completion %s: exit %d, %d bytes", shell, code, len(out))
		}
	}
}
