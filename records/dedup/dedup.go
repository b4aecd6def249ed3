// Package dedup is the command-id dedup memory every aggregate keeps in its
// state (records.RecentCommand): the last accepted command ids, at most a
// window of them, oldest first, each with the aggregate version of the
// command's last event, so a retried command is answered with its earlier
// outcome instead of being applied twice.
//
// To keep the memory small on the wire and in memory, an entry holds the
// dedup key of the command id, "h:" followed by the 16 hex digits of the
// first 64 bits of SHA-256(commandId) (Key), not the id itself. An entry
// written in another form is read as a raw command id. A false duplicate
// needs two different command ids of the same aggregate with the same
// 64-bit digest within the window: about window/2^64 per command.
//
// The memory has two forms: the wire form ([]records.RecentCommand, what a
// state carries) and the compact form ([]Entry, digests, what an
// aggregate's in-memory state keeps). Memory answers the same for both.
package dedup

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/prism-cqrs/prism/records"
)

// Window bounds: how many accepted command ids an aggregate remembers.
const (
	// DefaultWindow is the window of an aggregate whose configuration
	// leaves it zero.
	DefaultWindow = 16
	// MinWindow and MaxWindow bound a configured window: at least 16, at
	// most what keeps a live aggregate small.
	MinWindow = 16
	MaxWindow = 1024
)

const keyPrefix = "h:"

// KeyLen is the length of a dedup key.
const KeyLen = len(keyPrefix) + 16

// Hash is the 64-bit digest of a command id that the dedup memory keeps.
func Hash(commandID string) uint64 {
	var stack [64]byte // usual ids are hashed without an allocation
	sum := sha256.Sum256(append(stack[:0], commandID...))
	return binary.BigEndian.Uint64(sum[:8])
}

// Key returns what RecentCommand.CommandID holds for commandID.
func Key(commandID string) string {
	return FormatKey(Hash(commandID))
}

// FormatKey returns the dedup key of the digest h.
func FormatKey(h uint64) string {
	var b [KeyLen]byte
	copy(b[:], keyPrefix)
	appendHex16(b[len(keyPrefix):len(keyPrefix)], h)
	return string(b[:])
}

// appendHex16 appends h as exactly 16 lower-case hex digits.
func appendHex16(dst []byte, h uint64) []byte {
	const digits = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, digits[(h>>uint(i))&0xf])
	}
	return dst
}

// EntryHash returns the digest an entry's CommandID stands for: the parsed
// dedup key, or the digest of the entry taken as a raw command id.
func EntryHash(entry string) uint64 {
	if h, ok := ParseKey(entry); ok {
		return h
	}
	return Hash(entry)
}

// ParseKey returns the digest a well-formed dedup key holds.
func ParseKey(entry string) (uint64, bool) {
	if len(entry) != KeyLen || !strings.HasPrefix(entry, keyPrefix) {
		return 0, false
	}
	return parseHex16(entry[len(keyPrefix):])
}

func isKey(entry string) bool {
	_, ok := ParseKey(entry)
	return ok
}

// parseHex16 parses exactly 16 lower-case hex digits.
func parseHex16(s string) (uint64, bool) {
	var h uint64
	for i := 0; i < 16; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		h = h<<4 | uint64(c)
	}
	return h, true
}

// Lookup returns the version recorded in the wire-form memory recent for
// the command id whose digest is h, if it is there.
func Lookup(recent []records.RecentCommand, h uint64) (int64, bool) {
	var key [KeyLen]byte // compared in place, never allocated
	copy(key[:], keyPrefix)
	appendHex16(key[len(keyPrefix):len(keyPrefix)], h)
	for i := len(recent) - 1; i >= 0; i-- {
		if e := recent[i].CommandID; e == string(key[:]) || !isKey(e) && Hash(e) == h {
			return recent[i].Version, true
		}
	}
	return 0, false
}

// Remember returns a new wire-form memory: recent with the command id whose
// digest is h recorded at version, keeping the newest window entries. A
// command already last in the memory (a command with several events) has
// its version updated. recent is not modified.
func Remember(recent []records.RecentCommand, h uint64, version int64, window int) []records.RecentCommand {
	entry := records.RecentCommand{CommandID: FormatKey(h), Version: version}
	if n := len(recent); n > 0 && EntryHash(recent[n-1].CommandID) == h {
		out := make([]records.RecentCommand, n)
		copy(out, recent)
		out[n-1] = entry
		return out
	}
	if drop := len(recent) + 1 - window; drop > 0 {
		recent = recent[drop:]
	}
	out := make([]records.RecentCommand, 0, len(recent)+1)
	out = append(out, recent...)
	return append(out, entry)
}

// Entry is one remembered command in the compact form: the digest of its
// id (Hash) and the aggregate version of its last event.
type Entry struct {
	Hash    uint64
	Version int64
}

// Entries returns the compact form of the wire-form memory recent, its
// newest window entries; nil when recent is empty.
func Entries(recent []records.RecentCommand, window int) []Entry {
	if len(recent) > window {
		recent = recent[len(recent)-window:]
	}
	if len(recent) == 0 {
		return nil
	}
	out := make([]Entry, len(recent))
	for i, rc := range recent {
		out[i] = Entry{Hash: EntryHash(rc.CommandID), Version: rc.Version}
	}
	return out
}

// WireKeys writes entries in the wire form: one string holds every dedup
// key, each entry a slice of it. The bytes are written once, here, and
// never again, so the string may share them (as strings.Builder does).
func WireKeys(entries []Entry) []records.RecentCommand {
	if len(entries) == 0 {
		return nil
	}
	buf := make([]byte, 0, KeyLen*len(entries))
	for _, e := range entries {
		buf = append(buf, keyPrefix...)
		buf = appendHex16(buf, e.Hash)
	}
	keys := unsafe.String(unsafe.SliceData(buf), len(buf))
	out := make([]records.RecentCommand, len(entries))
	for i, e := range entries {
		out[i] = records.RecentCommand{CommandID: keys[i*KeyLen : (i+1)*KeyLen], Version: e.Version}
	}
	return out
}
