package rebuild

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// parseFlags binds the start flags to a fresh flag set and parses args.
func parseFlags(t *testing.T, args ...string) (Spec, []int32, error) {
	t.Helper()
	fs := pflag.NewFlagSet("rebuild", pflag.ContinueOnError)
	f := BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Spec{}, nil, err
	}
	spec, err := f.Spec()
	if err != nil {
		return Spec{}, nil, err
	}
	ps, err := f.Partitions()
	return spec, ps, err
}

func TestSpecFlags(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		args []string
		want Spec
		ps   []int32
	}{
		{nil, Spec{Kind: ToEarliest}, nil},
		{[]string{"--to-earliest"}, Spec{Kind: ToEarliest}, nil},
		{[]string{"--to-latest"}, Spec{Kind: ToLatest}, nil},
		{[]string{"--to-datetime", "2026-11-01T00:00:00Z"}, Spec{Kind: ToDatetime, At: at}, nil},
		{[]string{"--to-datetime=2026-11-01T01:00:00+01:00"}, Spec{Kind: ToDatetime, At: at}, nil},
		{[]string{"--by-duration", "P7D"}, Spec{Kind: ByDuration, Duration: 7 * 24 * time.Hour}, nil},
		{[]string{"--to-offset", "42", "--partitions", "2,0"}, Spec{Kind: ToOffset, Offset: 42}, []int32{2, 0}},
		{[]string{"--to-offset", "0"}, Spec{Kind: ToOffset}, nil},
		{[]string{"--shift-by", "-3"}, Spec{Kind: ShiftBy, Shift: -3}, nil},
		{[]string{"--shift-by", "+3"}, Spec{Kind: ShiftBy, Shift: 3}, nil},
		{[]string{"--shift-by=-3"}, Spec{Kind: ShiftBy, Shift: -3}, nil},
		{[]string{"--to-earliest=false", "--to-latest"}, Spec{Kind: ToLatest}, nil},
	}
	for _, tt := range tests {
		got, ps, err := parseFlags(t, tt.args...)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if got.Kind != tt.want.Kind || !got.At.Equal(tt.want.At) || got.Duration != tt.want.Duration || got.Offset != tt.want.Offset || got.Shift != tt.want.Shift {
			t.Errorf("%v: spec = %+v, want %+v", tt.args, got, tt.want)
		}
		if len(ps) != len(tt.ps) || (len(ps) > 0 && (ps[0] != tt.ps[0] || ps[1] != tt.ps[1])) {
			t.Errorf("%v: partitions = %v, want %v", tt.args, ps, tt.ps)
		}
	}
}

// TestSpecFlagErrors: every malformed value is refused with an error that
// names the flag a user has to fix.
func TestSpecFlagErrors(t *testing.T) {
	tests := []struct {
		args  []string
		names []string // what the error must mention
	}{
		{[]string{"--by-duration", "P7X"}, []string{"--by-duration", "P7X"}},
		{[]string{"--by-duration", "7 days"}, []string{"--by-duration"}},
		{[]string{"--by-duration", "-P7D"}, []string{"--by-duration"}},
		{[]string{"--to-offset", "-1"}, []string{"--to-offset", "-1"}},
		{[]string{"--to-offset", "ten"}, []string{"--to-offset"}},
		{[]string{"--to-offset", "+5"}, []string{"--to-offset"}},
		{[]string{"--shift-by", "3x"}, []string{"--shift-by"}},
		{[]string{"--shift-by", ""}, []string{"--shift-by"}},
		{[]string{"--to-datetime", "2026-11-01T00:00:00"}, []string{"--to-datetime", "zone"}},
		{[]string{"--to-datetime", "2026-11-01"}, []string{"--to-datetime"}},
		{[]string{"--to-datetime", "2026-11-01 00:00:00Z"}, []string{"--to-datetime"}},
		{[]string{"--to-earliest", "--to-latest"}, []string{"--to-earliest", "--to-latest"}},
		{[]string{"--to-datetime", "2026-11-01T00:00:00Z", "--by-duration", "P7D"}, []string{"--to-datetime", "--by-duration"}},
		{[]string{"--to-offset", "5", "--shift-by", "-1"}, []string{"--to-offset", "--shift-by"}},
		{[]string{"--partitions", "0,-1"}, []string{"--partitions", "-1"}},
		{[]string{"--partitions", "1,1"}, []string{"--partitions"}},
	}
	for _, tt := range tests {
		_, _, err := parseFlags(t, tt.args...)
		if err == nil {
			t.Errorf("%v: no error", tt.args)
			continue
		}
		for _, n := range tt.names {
			if !strings.Contains(err.Error(), n) {
				t.Errorf("%v: error %q does not mention %q", tt.args, err, n)
			}
		}
	}
}

func TestSpecString(t *testing.T) {
	for _, args := range [][]string{
		{"--to-earliest"}, {"--to-latest"}, {"--to-datetime", "2026-11-01T00:00:00Z"},
		{"--by-duration", "P7DT12H"}, {"--to-offset", "42"}, {"--shift-by", "-3"}, {"--shift-by", "+3"},
	} {
		spec, _, err := parseFlags(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		if got := spec.String(); got != strings.Join(args, " ") {
			t.Errorf("String() = %q, want %q", got, strings.Join(args, " "))
		}
	}
}
