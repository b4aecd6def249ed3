package rebuild

import (
	"testing"
	"time"
)

func TestParseISODuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"P7D", 7 * 24 * time.Hour},
		{"p7d", 7 * 24 * time.Hour},
		{"PT12H", 12 * time.Hour},
		{"PT30M", 30 * time.Minute},
		{"PT45S", 45 * time.Second},
		{"PT1.5S", 1500 * time.Millisecond},
		{"PT0.000000001S", time.Nanosecond},
		{"P1DT2H3M4S", 24*time.Hour + 2*time.Hour + 3*time.Minute + 4*time.Second},
		{"P2DT30M", 48*time.Hour + 30*time.Minute},
		{"PT1H1S", time.Hour + time.Second},
		{"P0D", 0},
		{"P100000D", 100000 * 24 * time.Hour},
	}
	for _, tt := range good {
		got, err := ParseISODuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []string{
		"", "P", "PT", "P1DT", "7D", "D", "PD", "PTS", "P7X", "P7", "PT7",
		"P1W", "P1M", "P1Y", "P1H", "PT1D", "-P7D", "P-7D", "+P7D", "PT-1H",
		"PT1M1H", "PT1S1M", "PT1H1H", "P1D1D", "PT1.5H", "PT1.S", "PT.5S",
		"PT1.1234567891S", "P 7D", "P7D ", "P1.5D", "P7DT", "P1E3D",
		"P999999999999999999999D", "P200000D", "PT9223372037S",
	}
	for _, in := range bad {
		if got, err := ParseISODuration(in); err == nil {
			t.Errorf("ParseISODuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestFormatISODurationRoundTrips(t *testing.T) {
	for in, want := range map[time.Duration]string{
		7 * 24 * time.Hour:                   "P7D",
		90 * time.Minute:                     "PT1H30M",
		24*time.Hour + 1500*time.Millisecond: "P1DT1.5S",
		0:                                    "PT0S",
		45 * time.Second:                     "PT45S",
	} {
		got := FormatISODuration(in)
		if got != want {
			t.Errorf("FormatISODuration(%v) = %q, want %q", in, got, want)
		}
		back, err := ParseISODuration(got)
		if err != nil || back != in {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v", got, back, err, in)
		}
	}
}
