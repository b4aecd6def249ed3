package dedup

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/prism-cqrs/prism/records"
)

func TestKey(t *testing.T) {
	// The key Payment has always written for "c-1" (payment/decide_test.go).
	if got, want := Key("c-1"), "h:a6f7ef47ee8dc84a"; got != want {
		t.Errorf("Key(c-1) = %s, want %s", got, want)
	}
	h, ok := ParseKey(Key("c-1"))
	if !ok || h != Hash("c-1") || FormatKey(h) != Key("c-1") {
		t.Errorf("ParseKey(Key(c-1)) = %x, %v; Hash = %x", h, ok, Hash("c-1"))
	}
	for _, raw := range []string{"c-1", "h:A6F7EF47EE8DC84A", "h:a6f7ef47ee8dc84", "x:a6f7ef47ee8dc84a"} {
		if _, ok := ParseKey(raw); ok {
			t.Errorf("ParseKey(%q) accepted", raw)
		}
		if EntryHash(raw) != Hash(raw) {
			t.Errorf("EntryHash(%q) is not the digest of the raw id", raw)
		}
	}
}

func TestLookupAndRemember(t *testing.T) {
	recent := []records.RecentCommand{{CommandID: "raw-1", Version: 1}, {CommandID: Key("c-2"), Version: 2}}
	for _, tt := range []struct {
		id      string
		version int64
		ok      bool
	}{{"raw-1", 1, true}, {"c-2", 2, true}, {"c-3", 0, false}} {
		if v, ok := Lookup(recent, Hash(tt.id)); v != tt.version || ok != tt.ok {
			t.Errorf("Lookup(%s) = %d, %v; want %d, %v", tt.id, v, ok, tt.version, tt.ok)
		}
	}

	got := Remember(recent, Hash("c-3"), 4, 16)
	want := []records.RecentCommand{{CommandID: "raw-1", Version: 1}, {CommandID: Key("c-2"), Version: 2}, {CommandID: Key("c-3"), Version: 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Remember(c-3) = %v, want %v", got, want)
	}
	if len(recent) != 2 {
		t.Error("Remember modified its input")
	}
	// The command already last (several events): its version moves.
	if got := Remember(want, Hash("c-3"), 5, 16); len(got) != 3 || got[2] != (records.RecentCommand{CommandID: Key("c-3"), Version: 5}) {
		t.Errorf("Remember(c-3 again) = %v", got)
	}
	// The window keeps the newest entries.
	if got := Remember(want, Hash("c-4"), 6, 2); !reflect.DeepEqual(got, []records.RecentCommand{{CommandID: Key("c-3"), Version: 4}, {CommandID: Key("c-4"), Version: 6}}) {
		t.Errorf("Remember(c-4) with window 2 = %v", got)
	}
}

// TestMemoryForms runs the same commands through a wire and a compact
// memory: they answer the same and write the same RecentCommands.
func TestMemoryForms(t *testing.T) {
	const window = 16
	var wire []records.RecentCommand
	var compact []Entry
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("c-%d", i%23)
		h := Hash(id)
		w, c := WireMemory(wire), CompactMemory(compact)
		wv, wok := w.Lookup(h)
		cv, cok := c.Lookup(h)
		if wv != cv || wok != cok {
			t.Fatalf("step %d: wire lookup %d, %v; compact %d, %v", i, wv, wok, cv, cok)
		}
		fresh := i == 30
		nextWire := w.Remember(h, int64(i+1), window, fresh)
		nextCompact := c.Remember(h, int64(i+1), window, fresh)
		if !reflect.DeepEqual(nextWire, nextCompact) {
			t.Fatalf("step %d: wire writes %v, compact %v", i, nextWire, nextCompact)
		}
		if w.Next() != nil {
			t.Fatalf("step %d: a wire memory has compact digests", i)
		}
		if !reflect.DeepEqual(c.Next(), Entries(nextWire, window)) {
			t.Fatalf("step %d: compact Next %v, want %v", i, c.Next(), Entries(nextWire, window))
		}
		wire, compact = nextWire, c.Next()
		if i == 29 && len(wire) != window {
			t.Fatalf("memory holds %d entries after 30 commands, want the window %d", len(wire), window)
		}
	}
	// Step 30 (fresh: a new aggregate) restarted the memory: it holds the
	// 10 commands since.
	if len(wire) != 10 {
		t.Errorf("memory holds %d entries, want 10", len(wire))
	}
}

func TestEntriesAndWireKeys(t *testing.T) {
	if Entries(nil, 16) != nil || WireKeys(nil) != nil {
		t.Error("an empty memory is not nil")
	}
	recent := []records.RecentCommand{{CommandID: "raw", Version: 1}, {CommandID: Key("b"), Version: 2}, {CommandID: Key("c"), Version: 3}}
	got := WireKeys(Entries(recent, 2))
	want := []records.RecentCommand{{CommandID: Key("b"), Version: 2}, {CommandID: Key("c"), Version: 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WireKeys(Entries(window 2)) = %v, want %v", got, want)
	}
	if got := WireKeys(Entries(recent[:1], 2)); got[0].CommandID != Key("raw") {
		t.Errorf("a raw id is written as %q, want its key %q", got[0].CommandID, Key("raw"))
	}
}
