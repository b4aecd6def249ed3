package testkit

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
)

// CommandRecords is one aggregate's command decoding as FuzzCommandRecords
// drives it; E is the aggregate's command envelope.
type CommandRecords[E any] struct {
	// Topic is the commands topic the fuzzed records come from (their
	// errors must name it with the record's partition and offset).
	Topic string
	// Decode is the aggregate's DecodeCommand, its command asserted to E.
	Decode func(*kgo.Record) (*E, error)
	// Encode writes a command as its record value.
	Encode func(*E) ([]byte, error)
	// Key is the command's aggregate id, which the record key must equal.
	Key func(*E) string
	// Answer handles the command on no state, as the processor does, and
	// decodes its result: the result's command id, whether it was accepted
	// or a duplicate, and how many events the command produced.
	Answer func(*E) (commandID string, accepted, duplicate bool, events int, err error)
	// ID is the command's id.
	ID func(*E) string
}

// FuzzCommandRecords feeds arbitrary records (key, value) to c.Decode, as
// the processor does with every commands record, seeded with cmds as
// records (every seventh under another key) and extra values. A record
// either fails with an error wrapping exactly one DLQ class
// (DecodeSentinels or records.ErrKeyMismatch) that names the record's
// position, or gives a command keyed by its aggregate id that re-encodes to
// the same command and whose result decodes and agrees with its events.
func FuzzCommandRecords[E any](f *testing.F, c CommandRecords[E], cmds []*E, extra ...[2][]byte) {
	for i, cmd := range cmds {
		v, err := c.Encode(cmd)
		if err != nil {
			f.Fatal(err)
		}
		key := c.Key(cmd)
		if i%7 == 3 {
			key += "-other" // a key mismatch
		}
		f.Add([]byte(key), v)
	}
	for _, kv := range extra {
		f.Add(kv[0], kv[1])
	}
	at := c.Topic + "/3@42"
	f.Fuzz(func(t *testing.T, key, value []byte) {
		cmd, err := c.Decode(&kgo.Record{Topic: c.Topic, Partition: 3, Offset: 42, Key: key, Value: value})
		if err != nil {
			if cmd != nil {
				t.Fatalf("a command with the error %v", err)
			}
			CheckDecodeError(t, "DecodeCommand", err, append(DecodeSentinels, records.ErrKeyMismatch)...)
			if !strings.Contains(err.Error(), at) {
				t.Fatalf("error does not name the record %s: %v", at, err)
			}
			return
		}
		if id := c.Key(cmd); id != string(key) {
			t.Fatalf("key %q accepted for the aggregate id %q", key, id)
		}
		again, err := c.Encode(cmd)
		if err != nil {
			t.Fatalf("a decoded command does not encode: %v (%+v)", err, cmd)
		}
		back, err := c.Decode(&kgo.Record{Key: key, Value: again})
		if err != nil || !reflect.DeepEqual(back, cmd) {
			t.Fatalf("re-encoded command decodes to %+v, %v; want %+v", back, err, cmd)
		}
		id, accepted, duplicate, events, err := c.Answer(cmd)
		if err != nil || id != c.ID(cmd) {
			t.Fatalf("result of %+v: command id %q, %v", cmd, id, err)
		}
		if accepted != (events > 0) && !duplicate {
			t.Fatalf("result of %+v: accepted %v, duplicate %v, with %d events", cmd, accepted, duplicate, events)
		}
	})
}

// Asserted adapts an aggregate's DecodeCommand, which returns its command
// as an interface C, to CommandRecords.Decode: the command asserted to *E,
// nil when there is none.
func Asserted[E any, C comparable](decode func(*kgo.Record) (C, error)) func(*kgo.Record) (*E, error) {
	return func(r *kgo.Record) (*E, error) {
		cmd, err := decode(r)
		var none C
		if cmd == none {
			return nil, err
		}
		return any(cmd).(*E), err
	}
}
