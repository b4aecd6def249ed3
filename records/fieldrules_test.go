package records

import (
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	tests := []struct {
		name string
		v    string
		max  int
		want string // substring of the reason; "" means accepted
	}{
		{"empty", "", 10, ""},
		{"plain", "GPU hours", 10, ""},
		{"emoji", "🚀🚀", 2, ""},
		{"accents at the limit", strings.Repeat("é", 10), 10, ""},           // 20 bytes, 10 characters
		{"4-byte characters at the limit", strings.Repeat("😀", 10), 10, ""}, // 40 bytes
		{"one character over", strings.Repeat("é", 11), 10, "is 11 characters long, at most 10 allowed"},
		{"ASCII over", strings.Repeat("a", 11), 10, "is 11 characters long"},
		{"NUL", "a\x00b", 10, "control character U+0000 at character 2"},
		{"SOH", "\x01", 10, "control character U+0001 at character 1"},
		{"tab", "a\tb", 10, "control character U+0009"},
		{"newline", "a\n", 10, "control character U+000A at character 2"},
		{"carriage return", "\r", 10, "control character U+000D"},
		{"DEL", "\x7f", 10, "control character U+007F"},
		{"NEL (C1)", "a\u0085", 10, "control character U+0085 at character 2"},
		{"last C1", "\u009f", 10, "control character U+009F"},
		{"first after C1", "\u00a0", 10, ""}, // no-break space is text
		{"line separator", "\u2028", 10, ""},
		{"invalid byte", "caf\xe9", 10, "is not valid UTF-8 (character 4)"},
		{"truncated sequence", "\xe2\x82", 10, "is not valid UTF-8"},
		{"encoded surrogate", "\xed\xa0\x80", 10, "is not valid UTF-8"},
		{"overlong encoding", "\xc0\xaf", 10, "is not valid UTF-8"},
		{"literal U+FFFD", "\uFFFD", 10, ""}, // a valid character, not an invalid byte
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckText(tt.v, tt.max)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckText(%q) = %v, want accepted", tt.v, err)
			case tt.want != "" && err == nil:
				t.Fatalf("CheckText(%q) accepted, want %q", tt.v, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("CheckText(%q) = %q, want it to contain %q", tt.v, err, tt.want)
			}
		})
	}
}

func TestCheckID(t *testing.T) {
	tests := []struct {
		name     string
		v        string
		required bool
		want     string
	}{
		{"empty required", "", true, "is empty"},
		{"empty optional", "", false, ""},
		{"128 bytes", strings.Repeat("x", 128), true, ""},
		{"129 bytes", strings.Repeat("x", 129), true, "is 129 bytes long, at most 128 allowed"},
		{"multi-byte counted in bytes", strings.Repeat("é", 65), true, "is 130 bytes long"},
		{"NUL", "p\x00", true, "control character U+0000"},
		{"C1", "p\u0080", true, "control character U+0080"},
		{"invalid UTF-8", "p\xff", true, "is not valid UTF-8"},
		{"unicode", "org-ü-😀", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckID(tt.v, tt.required)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("CheckID(%q, %v) = %v, want %q", tt.v, tt.required, err, tt.want)
			}
		})
	}
}

func TestCheckAmount(t *testing.T) {
	for _, tt := range []struct {
		v, max int64
		ok     bool
	}{{1, 10, true}, {10, 10, true}, {11, 10, false}, {0, 10, false}, {-1, 10, false}, {-1 << 63, 10, false}} {
		if err := CheckAmount(tt.v, tt.max); (err == nil) != tt.ok {
			t.Errorf("CheckAmount(%d, %d) = %v, want ok=%v", tt.v, tt.max, err, tt.ok)
		}
	}
}
