package redis

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/topology"
)

// TestMessagesAreWhatEncodingJSONWrites: for Payment's layout, the
// invalidation message the target builds is byte for byte the
// encoding/json rendering of payment.RedisInvalidation (the documented
// format), for plain ids and for ids encoding/json escapes.
func TestMessagesAreWhatEncodingJSONWrites(t *testing.T) {
	tg, err := NewTarget(DefaultConfig("redis://127.0.0.1:1/0", topology.NewNames("n").Aggregate("payments")), payment.RedisCache{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	for _, s := range []string{"", "p-1", "org 7/a", `q"uote`, `back\slash`, "<b>&amp;", "tab\tnl\n", "é-ü", "\u2028", "bad\xffutf8", "\x00"} {
		for _, v := range []int64{0, 1, 1 << 53} {
			want, err := json.Marshal(payment.RedisInvalidation{OrganizationID: "org-" + s, PaymentID: s, Version: v})
			if err != nil {
				t.Fatal(err)
			}
			if got := tg.appendMessage([]byte("x"), "org-"+s, s, v); string(got) != "x"+string(want) {
				t.Errorf("message for id %q: %s, want %s", s, got[1:], want)
			}
		}
	}
}

func TestVersionHead(t *testing.T) {
	for _, c := range []struct {
		doc  string
		v    int64
		want bool
	}{
		{`{"version":3,"id":"a"}`, 3, true},
		{`{"version":3}`, 3, true},
		{`{"version":31,"id":"a"}`, 3, false},
		{`{"version":3`, 3, false},
		{`{"id":"a","version":3}`, 3, false},
		{`{"version": 3,"id":"a"}`, 3, false},
		{``, 0, false},
	} {
		if got := versionHead([]byte(c.doc), c.v); got != c.want {
			t.Errorf("versionHead(%s, %d) = %v, want %v", c.doc, c.v, got, c.want)
		}
	}
}

func TestValidateLayout(t *testing.T) {
	if err := ValidateLayout(payment.RedisCache{}.CacheLayout()); err != nil {
		t.Fatalf("Payment's layout: %v", err)
	}
	ok := projections.CacheLayout{Key: "invoice", Recent: "recent:invoices", CacheVersion: "cachever:invoices", OrganizationField: "organizationId", IDField: "invoiceId"}
	if err := ValidateLayout(ok); err != nil {
		t.Fatalf("%+v: %v", ok, err)
	}
	if l := ok; func() error { l.Key = "v2x"; return ValidateLayout(l) }() != nil {
		t.Errorf("Key v2x (not a version prefix) refused")
	}
	for _, bad := range []func(*projections.CacheLayout){
		func(l *projections.CacheLayout) { l.Key = "" },
		func(l *projections.CacheLayout) { l.Key = "org" },
		func(l *projections.CacheLayout) { l.Key = "sink" },
		func(l *projections.CacheLayout) { l.Key = "in:voice" },
		func(l *projections.CacheLayout) { l.Key = "v2" }, // a rebuilt version's prefix <ns>:v2:
		func(l *projections.CacheLayout) { l.Recent = "recent:" },
		func(l *projections.CacheLayout) { l.Recent = "rec ent" },
		func(l *projections.CacheLayout) { l.CacheVersion = l.Recent },
		func(l *projections.CacheLayout) { l.OrganizationField = `org"Id` },
		func(l *projections.CacheLayout) { l.IDField = "version" },
		func(l *projections.CacheLayout) { l.IDField = l.OrganizationField },
	} {
		l := ok
		bad(&l)
		if err := ValidateLayout(l); err == nil {
			t.Errorf("layout %+v accepted", l)
		}
	}
	if _, err := NewTarget(DefaultConfig("redis://127.0.0.1:1/0", topology.NewNames("n").Aggregate("x")), nil); err == nil {
		t.Error("NewTarget without a cache projection accepted")
	}
}

// brokenCache renders documents that break the contract of
// projections.CacheDoc in the ways the target checks.
type brokenCache struct{}

func (brokenCache) CacheLayout() projections.CacheLayout {
	return projections.CacheLayout{Key: "thing", Recent: "recent:things", CacheVersion: "cachever:things", OrganizationField: "org", IDField: "thingId"}
}

func (brokenCache) Check(*records.Event) string { return "" }

func (brokenCache) CacheDoc(ev *records.Event) (projections.CacheDoc, error) {
	switch ev.Type {
	case "NoVersionHead":
		return projections.CacheDoc{ID: ev.AggregateID, OrganizationID: "o", Version: ev.Version, JSON: []byte(`{"id":"a","version":1}`)}, nil
	case "WrongVersion":
		return projections.CacheDoc{ID: ev.AggregateID, OrganizationID: "o", Version: ev.Version, JSON: []byte(`{"version":9}`)}, nil
	case "OtherID":
		return projections.CacheDoc{ID: "other", OrganizationID: "o", Version: ev.Version, JSON: []byte(`{"version":1}`)}, nil
	case "NoOrg":
		return projections.CacheDoc{ID: ev.AggregateID, Version: ev.Version, JSON: []byte(`{"version":1}`)}, nil
	case "DeleteNoOrg":
		return projections.CacheDoc{Delete: true, ID: ev.AggregateID, Version: ev.Version}, nil
	}
	return projections.CacheDoc{ID: ev.AggregateID, OrganizationID: "o", Version: ev.Version, JSON: []byte(`{"version":1}`)}, nil
}

// TestContractBreachesAreRejected: documents a reader or the script could
// not use are rejected (events DLQ) with a reason naming the problem, and
// still advance their partition's offset.
func TestContractBreachesAreRejected(t *testing.T) {
	tg, err := NewTarget(DefaultConfig("redis://127.0.0.1:1/0", topology.NewNames("n").Aggregate("things")), brokenCache{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	want := map[string]string{"NoVersionHead": "does not start with", "WrongVersion": "does not start with", "OtherID": "differs from aggregate id",
		"NoOrg": "without id or organization id", "DeleteNoOrg": "delete without"}
	var batch []sinks.Event
	for typ := range want {
		batch = append(batch, sinks.Event{Offset: int64(len(batch)), Key: "a", Envelope: &records.Event{EventID: "e-" + typ, Type: typ, AggregateID: "a", Version: 1}})
	}
	batch = append(batch, sinks.Event{Offset: int64(len(batch)), Key: "a", Envelope: &records.Event{EventID: "e-ok", Type: "Fine", AggregateID: "a", Version: 1}})
	var chunks []chunk
	rejected := tg.buildChunks("t", batch, tg.Keys(), true, func(c chunk) { chunks = append(chunks, c) })
	if len(rejected) != len(want) {
		t.Fatalf("rejected %d events, want %d: %+v", len(rejected), len(want), rejected)
	}
	for _, r := range rejected {
		if !strings.Contains(r.Reason, want[r.Event.Envelope.Type]) {
			t.Errorf("%s rejected for %q, want it to say %q", r.Event.Envelope.Type, r.Reason, want[r.Event.Envelope.Type])
		}
	}
	if len(chunks) != 1 || chunks[0].args[16] != "6" || chunks[0].keys[len(chunks[0].keys)-3] != "n:thing:a" {
		t.Fatalf("chunks %+v: want one, moving the offset to 6, keys under n:thing:", chunks)
	}
}
