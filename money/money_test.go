package money

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		wantErr bool
	}{
		{"100.00", "EUR", 10000, false},
		{"100", "EUR", 10000, false},
		{"0.5", "USD", 50, false},
		{"12.345", "EUR", 0, true}, // too many decimals
		{"12.345", "BHD", 12345, false},
		{"500", "JPY", 500, false},
		{"500.1", "JPY", 0, true},
		{"1e3", "EUR", 0, true},
		{"", "EUR", 0, true},
		{"1.", "EUR", 0, true},
		{".5", "EUR", 0, true},
		{"-3.10", "EUR", -310, false},
		{"99999999999999999999", "EUR", 0, true},
		{"1.00", "XXX", 0, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.cur)
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q,%q) err = %v, wantErr %v", tt.in, tt.cur, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q,%q) = %d, want %d", tt.in, tt.cur, got, tt.want)
		}
	}
	if _, err := Parse("1", "XXX"); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("unknown currency error = %v, want ErrUnknownCurrency", err)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		minor int64
		cur   string
		want  string
	}{{10000, "EUR", "100.00"}, {5, "EUR", "0.05"}, {-310, "EUR", "-3.10"}, {500, "JPY", "500"}, {1, "KWD", "0.001"}} {
		got, err := Format(tt.minor, tt.cur)
		if err != nil || got != tt.want {
			t.Fatalf("Format(%d,%s) = %q,%v want %q", tt.minor, tt.cur, got, err, tt.want)
		}
		back, err := Parse(got, tt.cur)
		if err != nil || back != tt.minor {
			t.Fatalf("Parse(Format(%d)) = %d,%v", tt.minor, back, err)
		}
	}
}
