package dedup

import "github.com/prism-cqrs/prism/records"

// Memory is the dedup memory an aggregate's decide step consults and
// extends: the wire form (a state's RecentCommands, WireMemory) or the
// compact form (the digests of an in-memory state, CompactMemory), with
// which the aggregate neither writes the current state's dedup keys nor
// parses the next state's back. Both answer the same for the same memory.
// A concrete type, not an interface, so that it stays on the stack.
type Memory struct {
	wire    []records.RecentCommand
	recent  []Entry // when compact
	compact bool
	// next is the next state's digests, set by Remember when compact.
	next []Entry
}

// WireMemory is the memory held by recent.
func WireMemory(recent []records.RecentCommand) Memory { return Memory{wire: recent} }

// CompactMemory is the memory held by the digests recent.
func CompactMemory(recent []Entry) Memory {
	return Memory{recent: recent, compact: true}
}

// Lookup returns the version remembered for the command id whose digest
// is h, if any.
func (d *Memory) Lookup(h uint64) (int64, bool) {
	if !d.compact {
		return Lookup(d.wire, h)
	}
	for i := len(d.recent) - 1; i >= 0; i-- {
		if d.recent[i].Hash == h {
			return d.recent[i].Version, true
		}
	}
	return 0, false
}

// Remember returns the next state's RecentCommands: the memory (or
// nothing, when fresh: a new aggregate) with h recorded at version, the
// newest window entries kept (the rules of the package-level Remember).
// For a compact memory, Next then returns the same memory as digests.
func (d *Memory) Remember(h uint64, version int64, window int, fresh bool) []records.RecentCommand {
	if !d.compact {
		w := d.wire
		if fresh {
			w = nil
		}
		return Remember(w, h, version, window)
	}
	recent := d.recent
	if fresh {
		recent = nil
	}
	var next []Entry
	if n := len(recent); n > 0 && recent[n-1].Hash == h {
		next = make([]Entry, n)
		copy(next, recent)
		next[n-1].Version = version
	} else {
		if drop := len(recent) + 1 - window; drop > 0 {
			recent = recent[drop:]
		}
		next = make([]Entry, 0, len(recent)+1)
		next = append(next, recent...)
		next = append(next, Entry{Hash: h, Version: version})
	}
	d.next = next
	return WireKeys(next)
}

// Next returns the digests the last Remember of a compact memory
// recorded: the next state's memory, to build its compact state from
// without parsing the keys back. Nil for a wire memory or before Remember.
func (d *Memory) Next() []Entry { return d.next }
