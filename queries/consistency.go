package queries

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Token is a consistency token: it names one event by its place in its
// events topic. A read source has applied the event when its progress on
// that partition (the next offset it will read) is above Offset. The command
// gateway returns one with every accepted command; a query that carries it
// waits until the source it is routed to has applied the event.
type Token struct {
	Topic     string
	Partition int32
	Offset    int64
}

// String is the token as callers see it: opaque, URL-safe base64 (no
// padding) of "<topic>:<partition>:<offset>".
func (t Token) String() string {
	raw := t.Topic + ":" + strconv.FormatInt(int64(t.Partition), 10) + ":" + strconv.FormatInt(t.Offset, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseToken reads a token written by Token.String.
func ParseToken(s string) (Token, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Token{}, fmt.Errorf("consistency token: not a token")
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] == "" {
		return Token{}, fmt.Errorf("consistency token: not a token")
	}
	p, err1 := strconv.ParseInt(parts[1], 10, 32)
	o, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 {
		return Token{}, fmt.Errorf("consistency token: not a token")
	}
	return Token{Topic: parts[0], Partition: int32(p), Offset: o}, nil
}

// Consistency is what a query asks of its source's freshness. The zero
// value asks nothing. A query with a Token or MinVersion bypasses the cache
// (neither level is read or written): it must see its source.
type Consistency struct {
	// Token: wait until the routed source applied this event.
	Token *Token
	// MinVersion (by-id queries): wait until the source holds version
	// MinVersion or later of the aggregate.
	MinVersion int64
	// Wait bounds the waiting; 0 means the router's default.
	Wait time.Duration
}

// IsZero reports whether c asks nothing.
func (c Consistency) IsZero() bool { return c.Token == nil && c.MinVersion == 0 }
