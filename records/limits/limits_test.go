package limits

import (
	"strings"
	"testing"
)

func TestDefaultsAndValidate(t *testing.T) {
	if l := (Limits{}).WithDefaults(); l.MaxAmountMinor != DefaultMaxAmountMinor || l.DedupWindow != DefaultDedupWindow {
		t.Fatalf("defaults %+v", l)
	}
	if err := (Limits{}).Validate("x"); err != nil {
		t.Fatal(err)
	}
	err := Limits{MaxAmountMinor: -1, DedupWindow: MaxDedupWindow + 1}.Validate("invoice")
	for _, want := range []string{"invoice limits: ", "max amount -1", "dedup window"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not say %q", err, want)
		}
	}
}
