package records

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDLQRecordKeepsTheOriginalAndSaysWhere(t *testing.T) {
	src := &kgo.Record{Topic: "ns.payments.events", Partition: 3, Offset: 42, Key: []byte("k"), Value: []byte{0xC3, 0x01, 0xff},
		Headers: []kgo.RecordHeader{{Key: HeaderType, Value: []byte("PaymentCreated")}}}
	got := DLQRecord("ns.payments.events.dlq", src, "decode", ClassTruncated, "refused: "+strings.Repeat("é", 5000)+" (caused by: immense term)",
		kgo.RecordHeader{Key: HeaderDLQSink, Value: []byte("redis")})
	if got.Topic != "ns.payments.events.dlq" || string(got.Key) != "k" || string(got.Value) != string(src.Value) {
		t.Fatalf("record %+v", got)
	}
	h := map[string]string{}
	for _, x := range got.Headers {
		h[x.Key] = string(x.Value)
	}
	want := map[string]string{HeaderType: "PaymentCreated", HeaderDLQStage: "decode", HeaderDLQClass: "truncated",
		HeaderDLQTopic: "ns.payments.events", HeaderDLQPartition: "3", HeaderDLQOffset: "42", HeaderDLQSink: "redis"}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("header %s = %q, want %q", k, h[k], v)
		}
	}
	m := h[HeaderDLQMessage]
	if len(m) > MaxDLQMessageBytes || len(m) < MaxDLQMessageBytes-8 || !utf8.ValidString(m) {
		t.Errorf("message of %d bytes (valid UTF-8: %v), want it cut to about %d", len(m), utf8.ValidString(m), MaxDLQMessageBytes)
	}
	if !strings.HasPrefix(m, "refused: ") || !strings.HasSuffix(m, "(caused by: immense term)") {
		t.Errorf("the cut message lost its start or its end: %q", m)
	}
	if len(src.Headers) != 1 {
		t.Error("the source record's headers were changed")
	}
}
