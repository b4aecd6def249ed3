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

// TestCheckCharsFastPath: the printable-ASCII fast path of checkChars
// decides every string as the rune-by-rune check does, error text
// included: each byte value alone and inside an id, and multi-byte text.
func TestCheckCharsFastPath(t *testing.T) {
	var inputs []string
	for c := 0; c < 256; c++ {
		inputs = append(inputs, string([]byte{byte(c)}))
		// Every position of two 8-byte words and a tail.
		for pos := range 19 {
			b := []byte("org-001-user-3-abcd")
			b[pos] = byte(c)
			inputs = append(inputs, string(b))
		}
	}
	inputs = append(inputs, "", "3f2c9a4e-8d1b-4c6f-9e2a-1b7d5c3e9f01", "café crème", "日本語の説明", "a\u0085b",
		"tab\there", "ok \u007f", "emoji 🙂 ok", string([]byte{0xe6, 0x97}), "x\u2028y")
	accepted := 0
	for _, v := range inputs {
		got, want := checkChars(v), checkRunes(v)
		if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
			t.Errorf("checkChars(%q) = %v, rune by rune %v", v, got, want)
		}
		if got == nil {
			accepted++
		}
	}
	// Printable ASCII alone and at each of 19 places in an id (95 × 20),
	// the empty string, the
	// uuid and the four accepted texts above (U+2028 is not a control
	// character).
	if want := 20*95 + 1 + 1 + 4; accepted != want {
		t.Errorf("%d of %d inputs accepted, want %d", accepted, len(inputs), want)
	}
}

// BenchmarkCheckID is the check of one uuid id, as every command's ids get
// it (six per command).
func BenchmarkCheckID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckID("3f2c9a4e-8d1b-4c6f-9e2a-1b7d5c3e9f01", true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckIDRunes is BenchmarkCheckID through the rune-by-rune check
// (what every id took before the printable-ASCII fast path).
func BenchmarkCheckIDRunes(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := checkRunes("3f2c9a4e-8d1b-4c6f-9e2a-1b7d5c3e9f01"); err != nil {
			b.Fatal(err)
		}
	}
}
