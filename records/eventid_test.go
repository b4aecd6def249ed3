package records

import (
	"testing"

	"github.com/google/uuid"
)

func TestEventID(t *testing.T) {
	ns := uuid.MustParse("6f1c8f0e-3c2a-5b7e-9d41-7a0b5e2c9f13")
	// The ids Payment has always emitted (payment/decide_test.go).
	if got, want := EventID(ns, "pay-1", "c-10", 1), "1199f566-a80d-56c5-b22f-f69ba88fc5d0"; got != want {
		t.Errorf("EventID(pay-1, c-10, 1) = %s, want %s", got, want)
	}
	if got, want := EventID(ns, "pay-1", "c-10", 4), "f49d1449-013b-56f3-8df1-90207e6629fd"; got != want {
		t.Errorf("EventID(pay-1, c-10, 4) = %s, want %s", got, want)
	}
	// What the id is: UUID v5 of aggregate id, 0, command id, 0, version.
	if got, want := EventID(ns, "a", "b", 12), uuid.NewSHA1(ns, []byte("a\x00b\x0012")).String(); got != want {
		t.Errorf("EventID(a, b, 12) = %s, want the UUID v5 %s", got, want)
	}
	long := string(make([]byte, 300)) // beyond the stack buffer
	if got, want := EventID(ns, long, "c", 1), uuid.NewSHA1(ns, []byte(long+"\x00c\x001")).String(); got != want {
		t.Errorf("EventID of a long id = %s, want %s", got, want)
	}
	other := uuid.MustParse("00000000-0000-5000-8000-000000000001")
	if EventID(other, "pay-1", "c-10", 1) == EventID(ns, "pay-1", "c-10", 1) {
		t.Error("two namespaces give the same event id")
	}
}
