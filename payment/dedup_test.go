package payment

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records/dedup"
)

func duplicate(id string, version int64) schemas.CommandResult {
	return schemas.CommandResult{CommandID: id, PaymentID: payID, Accepted: true, Duplicate: true,
		EventVersion: version, CorrelationID: "corr-" + id}
}

func TestDecideDuplicates(t *testing.T) {
	legacy := payment(schemas.StatusPending)
	legacy.RecentCommands = append(legacy.RecentCommands, schemas.RecentCommand{CommandID: "raw-id-7", Version: 3})
	tests := []struct {
		name  string
		state *schemas.Payment
		cmd   *schemas.CommandEnvelope
		want  schemas.CommandResult
	}{
		{"update retried", payment(schemas.StatusPending), updateCmd("c-2", nil, nil, str("x")), duplicate("c-2", 2)},
		{"create retried", payment(schemas.StatusPending), createCmd("c-1", 1000, "EUR", ""), duplicate("c-1", 1)},
		{"status retried after the payment moved on", payment(schemas.StatusRefunded), statusCmd("c-3", schemas.StatusCaptured), duplicate("c-3", 3)},
		{"retried with a now invalid payload", payment(schemas.StatusPending), createCmd("c-1", -5, "???", ""), duplicate("c-1", 1)},
		{"retried with a stale expected version", payment(schemas.StatusPending),
			with(deleteCmd("c-2"), func(c *schemas.CommandEnvelope) { c.ExpectedVersion = i64(1) }), duplicate("c-2", 2)},
		{"entry holding a raw command id", legacy, deleteCmd("raw-id-7"), duplicate("raw-id-7", 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.state, tt.cmd, now, Limits{})
			if !reflect.DeepEqual(d.Result, tt.want) {
				t.Errorf("result\n got %+v\nwant %+v", d.Result, tt.want)
			}
			if len(d.Events) != 0 || d.Tombstone || d.State != tt.state {
				t.Errorf("a duplicate must emit nothing and keep the state: %d events, tombstone %v", len(d.Events), d.Tombstone)
			}
			if d.Label() != LabelDuplicate {
				t.Errorf("label %q, want duplicate", d.Label())
			}
		})
	}
}

// TestDedupWindow runs create c-0 then updates u-1..u-17 (versions 2..18)
// and retries old ids. With the default window of 16, the memory holds
// u-2..u-17; c-0 and u-1 are forgotten.
func TestDedupWindow(t *testing.T) {
	run := func(limits Limits) *schemas.Payment {
		d := Decide(nil, createCmd("c-0", 100, "EUR", ""), now, limits)
		st := d.State
		for i := 1; i <= 17; i++ {
			d = Decide(st, updateCmd(fmt.Sprintf("u-%d", i), nil, nil, str(fmt.Sprint(i))), now, limits)
			if !d.Result.Accepted || d.Result.Duplicate || d.Result.EventVersion != int64(i+1) {
				t.Fatalf("update u-%d: %+v", i, d.Result)
			}
			st = d.State
		}
		return st
	}

	st := run(Limits{})
	if len(st.RecentCommands) != 16 {
		t.Fatalf("dedup memory holds %d entries, want 16", len(st.RecentCommands))
	}
	if first, last := st.RecentCommands[0], st.RecentCommands[15]; first != (schemas.RecentCommand{CommandID: dedup.Key("u-2"), Version: 3}) ||
		last != (schemas.RecentCommand{CommandID: dedup.Key("u-17"), Version: 18}) {
		t.Fatalf("dedup memory runs from %+v to %+v, want u-2@3 .. u-17@18", first, last)
	}
	if d := Decide(st, updateCmd("u-2", nil, nil, str("again")), now, Limits{}); !reflect.DeepEqual(d.Result, duplicate("u-2", 3)) {
		t.Errorf("u-2 (16th newest) retried: %+v, want duplicate at 3", d.Result)
	}
	if d := Decide(st, updateCmd("u-17", nil, nil, str("again")), now, Limits{}); !reflect.DeepEqual(d.Result, duplicate("u-17", 18)) {
		t.Errorf("u-17 retried: %+v, want duplicate at 18", d.Result)
	}
	d := Decide(st, updateCmd("u-1", nil, nil, str("again")), now, Limits{})
	if !reflect.DeepEqual(d.Result, accepted("u-1", 19)) || len(d.Events) != 1 {
		t.Errorf("u-1 (17th newest, forgotten) retried: %+v, want accepted anew at 19", d.Result)
	}
	if d := Decide(st, createCmd("c-0", 100, "EUR", ""), now, Limits{}); d.Result.Reason != schemas.ReasonAlreadyExists {
		t.Errorf("forgotten create retried: %+v, want ALREADY_EXISTS", d.Result)
	}

	wide := Limits{DedupWindow: 32}
	st = run(wide)
	if len(st.RecentCommands) != 18 {
		t.Fatalf("window 32: dedup memory holds %d entries, want 18", len(st.RecentCommands))
	}
	if d := Decide(st, updateCmd("u-1", nil, nil, str("again")), now, wide); !reflect.DeepEqual(d.Result, duplicate("u-1", 2)) {
		t.Errorf("window 32, u-1 retried: %+v, want duplicate at 2", d.Result)
	}
	if d := Decide(st, createCmd("c-0", 100, "EUR", ""), now, wide); !reflect.DeepEqual(d.Result, duplicate("c-0", 1)) {
		t.Errorf("window 32, c-0 retried: %+v, want duplicate at 1", d.Result)
	}

	// A state written with a wider window is trimmed to the configured one
	// on its next event.
	d = Decide(st, updateCmd("u-18", nil, nil, str("18")), now, Limits{})
	if n := len(d.State.RecentCommands); n != 16 {
		t.Errorf("window 16 over a state with 18 entries: %d entries after the next event, want 16", n)
	}
}

// A retried delete finds no payment: the tombstone removed its memory too.
func TestDeleteRetriedAfterTombstoneIsNotFound(t *testing.T) {
	d := Decide(payment(schemas.StatusPending), deleteCmd("c-10"), now, Limits{})
	if !d.Tombstone || d.State != nil {
		t.Fatalf("delete: %+v", d)
	}
	if d := Decide(d.State, deleteCmd("c-10"), now, Limits{}); d.Result.Reason != schemas.ReasonNotFound {
		t.Fatalf("retried delete: %+v, want NOT_FOUND", d.Result)
	}
}

// Processing the same command on the same state again (a batch replayed
// after an aborted transaction) gives the same events, ids included.
func TestDecideIsDeterministic(t *testing.T) {
	st := payment(schemas.StatusAuthorized)
	a := Decide(st, statusCmd("c-10", schemas.StatusCaptured), now, Limits{})
	b := Decide(st, statusCmd("c-10", schemas.StatusCaptured), now, Limits{})
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
	}
	if a.Events[0].EventID != eventIDc10v4 {
		t.Fatalf("event id %s, want %s", a.Events[0].EventID, eventIDc10v4)
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := (Limits{}).Validate(); err != nil {
		t.Errorf("zero limits: %v", err)
	}
	if err := DefaultLimits().Validate(); err != nil {
		t.Errorf("default limits: %v", err)
	}
	err := Limits{MaxAmountMinor: -1, DedupWindow: 8}.Validate()
	if err == nil {
		t.Fatal("invalid limits accepted")
	}
	for _, s := range []string{"max amount -1", "dedup window 8"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not report %q", err, s)
		}
	}
	if err := (Limits{DedupWindow: MaxDedupWindow + 1}).Validate(); err == nil {
		t.Error("dedup window above the maximum accepted")
	}
}
