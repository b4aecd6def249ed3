package payment

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"

	"github.com/prism-cqrs/prism/payment/schemas"
)

// The dedup memory of a payment is its RecentCommands: the last accepted
// command ids (at most the dedup window, oldest first) with the aggregate
// version of each command's last event. To keep it small on the wire and in
// memory, an entry holds the dedup key of the command id, "h:" followed by
// the 16 hex digits of the first 64 bits of SHA-256(commandId), not the id
// itself. An entry written in another form is read as a raw command id.
// A false duplicate needs two different command ids of the same payment
// and organization with the same 64-bit digest within the window: about
// window/2^64 per command.

const dedupKeyPrefix = "h:"

// dedupHash is the 64-bit digest of a command id that the dedup memory keeps.
func dedupHash(commandID string) uint64 {
	var stack [64]byte // usual ids are hashed without an allocation
	sum := sha256.Sum256(append(stack[:0], commandID...))
	return binary.BigEndian.Uint64(sum[:8])
}

// DedupKey returns what RecentCommands[i].CommandID holds for commandID.
func DedupKey(commandID string) string {
	return formatDedupKey(dedupHash(commandID))
}

func formatDedupKey(h uint64) string {
	var b [len(dedupKeyPrefix) + 16]byte
	copy(b[:], dedupKeyPrefix)
	appendHex16(b[len(dedupKeyPrefix):len(dedupKeyPrefix)], h)
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

// entryHash returns the digest an entry stands for: the parsed dedup key, or
// the digest of the entry taken as a raw command id.
func entryHash(entry string) uint64 {
	if h, ok := parseDedupKey(entry); ok {
		return h
	}
	return dedupHash(entry)
}

// parseDedupKey returns the digest a well-formed dedup key holds.
func parseDedupKey(entry string) (uint64, bool) {
	if len(entry) != len(dedupKeyPrefix)+16 || !strings.HasPrefix(entry, dedupKeyPrefix) {
		return 0, false
	}
	return parseHex16(entry[len(dedupKeyPrefix):])
}

func isDedupKey(entry string) bool {
	_, ok := parseDedupKey(entry)
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

// lookupRecentHash returns the version recorded in the dedup memory for the
// command id whose digest is h, if it is there.
func lookupRecentHash(recent []schemas.RecentCommand, h uint64) (int64, bool) {
	var key [len(dedupKeyPrefix) + 16]byte // compared in place, never allocated
	copy(key[:], dedupKeyPrefix)
	appendHex16(key[len(dedupKeyPrefix):len(dedupKeyPrefix)], h)
	for i := len(recent) - 1; i >= 0; i-- {
		if e := recent[i].CommandID; e == string(key[:]) || !isDedupKey(e) && dedupHash(e) == h {
			return recent[i].Version, true
		}
	}
	return 0, false
}

// rememberHash returns a new dedup memory: recent with the command id whose
// digest is h recorded at version, keeping the newest window entries. A
// command already last in the memory (a command with several events) has its
// version updated. recent is not modified.
func rememberHash(recent []schemas.RecentCommand, h uint64, version int64, window int) []schemas.RecentCommand {
	entry := schemas.RecentCommand{CommandID: formatDedupKey(h), Version: version}
	if n := len(recent); n > 0 && entryHash(recent[n-1].CommandID) == h {
		out := make([]schemas.RecentCommand, n)
		copy(out, recent)
		out[n-1] = entry
		return out
	}
	if drop := len(recent) + 1 - window; drop > 0 {
		recent = recent[drop:]
	}
	out := make([]schemas.RecentCommand, 0, len(recent)+1)
	out = append(out, recent...)
	return append(out, entry)
}
