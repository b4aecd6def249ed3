package redis

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendMessage appends the invalidation message of one change,
// {"<OrganizationField>":<org>,"<IDField>":<id>,"version":<version>}
// (projections.CacheLayout), to b: the bytes encoding/json writes for a
// struct of those three fields, without its allocations.
func (t *Target) appendMessage(b []byte, org, id string, version int64) []byte {
	b = append(b, t.msgOrg...)
	b = appendJSONString(b, org)
	b = append(b, t.msgID...)
	b = appendJSONString(b, id)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, version, 10)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// encodes it (HTML characters escaped, invalid UTF-8 replaced): ids and
// organization ids without such characters are copied as they are, the
// others go through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// versionHead reports whether doc starts with {"version":<version>
// followed by ',' or '}' (the document contract of projections.CacheDoc:
// the apply script reads the stored version there).
func versionHead(doc []byte, version int64) bool {
	const head = `{"version":`
	if len(doc) < len(head) || string(doc[:len(head)]) != head {
		return false
	}
	var buf [20]byte
	v := strconv.AppendInt(buf[:0], version, 10)
	rest := doc[len(head):]
	if len(rest) <= len(v) || string(rest[:len(v)]) != string(v) {
		return false
	}
	return rest[len(v)] == ',' || rest[len(v)] == '}'
}
