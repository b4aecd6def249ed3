package records

import "testing"

func TestCheckRouting(t *testing.T) {
	if err := CheckRouting("c", "p", "paymentId", "T"); err != nil {
		t.Fatal(err)
	}
	err := CheckRouting("", "", "invoiceId", "")
	want := "command has no commandId\ncommand has no invoiceId (the record key)\ncommand has no type"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}
