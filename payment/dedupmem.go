package payment

import (
	"unsafe"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// dedupMemory is the dedup memory Decide consults and extends: the wire
// form (a state's RecentCommands) for the exported Decide and Apply, or,
// when compact is set, the digests of a compact state for the aggregate's
// Handle, which then neither writes the current state's dedup keys nor
// parses the next state's back. Both answer the same for the same memory.
// A concrete type, not an interface, so that it stays on the stack.
type dedupMemory struct {
	wire    []schemas.RecentCommand
	recent  []dedupEntry // when compact
	compact bool
	// next is the next state's digests, set by remember when compact
	// (for newMemStateWith).
	next []dedupEntry
}

func wireMemory(recent []schemas.RecentCommand) dedupMemory { return dedupMemory{wire: recent} }

func compactMemory(recent []dedupEntry) dedupMemory {
	return dedupMemory{recent: recent, compact: true}
}

// lookup returns the version remembered for the command id whose digest
// is h, if any.
func (d *dedupMemory) lookup(h uint64) (int64, bool) {
	if !d.compact {
		return lookupRecentHash(d.wire, h)
	}
	for i := len(d.recent) - 1; i >= 0; i-- {
		if d.recent[i].hash == h {
			return d.recent[i].version, true
		}
	}
	return 0, false
}

// remember returns the next state's RecentCommands: the memory (or
// nothing, when fresh) with h recorded at version, the newest window
// entries kept (rememberHash's rules).
func (d *dedupMemory) remember(h uint64, version int64, window int, fresh bool) []schemas.RecentCommand {
	if !d.compact {
		w := d.wire
		if fresh {
			w = nil
		}
		return rememberHash(w, h, version, window)
	}
	recent := d.recent
	if fresh {
		recent = nil
	}
	var next []dedupEntry
	if n := len(recent); n > 0 && recent[n-1].hash == h {
		next = make([]dedupEntry, n)
		copy(next, recent)
		next[n-1].version = version
	} else {
		if drop := len(recent) + 1 - window; drop > 0 {
			recent = recent[drop:]
		}
		next = make([]dedupEntry, 0, len(recent)+1)
		next = append(next, recent...)
		next = append(next, dedupEntry{hash: h, version: version})
	}
	d.next = next
	return wireKeys(next)
}

// wireKeys writes entries as RecentCommands: one string holds every dedup
// key, each entry a slice of it. The bytes are written once, here, and
// never again, so the string may share them (as strings.Builder does).
func wireKeys(entries []dedupEntry) []schemas.RecentCommand {
	if len(entries) == 0 {
		return nil
	}
	const keyLen = len(dedupKeyPrefix) + 16
	buf := make([]byte, 0, keyLen*len(entries))
	for _, e := range entries {
		buf = append(buf, dedupKeyPrefix...)
		buf = appendHex16(buf, e.hash)
	}
	keys := unsafe.String(unsafe.SliceData(buf), len(buf))
	out := make([]schemas.RecentCommand, len(entries))
	for i, e := range entries {
		out[i] = schemas.RecentCommand{CommandID: keys[i*keyLen : (i+1)*keyLen], Version: e.version}
	}
	return out
}
