package producers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/records"
)

// target is one aggregate of a producer, with the prism-type header
// values of its command types (one read-only byte slice per type, shared
// by every record of that type).
type target struct {
	Aggregate
	types map[string][]byte
}

// recordCodec builds command records: it picks the command's aggregate by
// type and lets the aggregate's codec encode it. Safe for concurrent use.
type recordCodec struct {
	byType  map[string]*target
	targets []*target
}

func newRecordCodec(aggs []Aggregate) *recordCodec {
	rc := &recordCodec{byType: map[string]*target{}}
	for _, a := range aggs {
		t := &target{Aggregate: a, types: map[string][]byte{}}
		for _, typ := range a.Commands.CommandTypes() {
			t.types[typ] = []byte(typ)
			rc.byType[typ] = t
		}
		rc.targets = append(rc.targets, t)
	}
	return rc
}

// target returns the aggregate of a command of type typ. A producer of
// one aggregate hands every command to it: its codec says what is wrong
// with a command of no known type (or none).
func (rc *recordCodec) target(typ string) (*target, error) {
	if t, ok := rc.byType[typ]; ok {
		return t, nil
	}
	if len(rc.targets) == 1 {
		return rc.targets[0], nil
	}
	if typ == "" {
		return nil, errors.New("command has no type")
	}
	return nil, fmt.Errorf("unknown command type %q (want %s)", typ, typeList(rc.types()))
}

func (rc *recordCodec) types() []string {
	var out []string
	for _, t := range rc.targets {
		out = append(out, t.Commands.CommandTypes()...)
	}
	return out
}

// record encodes cmd as a record of its aggregate's commands topic: key =
// aggregate id, value = the codec's encoding, headers of docs/schemas.md.
// Header values that are the same for many records (type, schema) share
// one read-only byte slice.
func (rc *recordCodec) record(cmd records.Command, now time.Time) (*kgo.Record, records.EncodedCommand, error) {
	if cmd == nil {
		return nil, records.EncodedCommand{}, errors.New("nil command")
	}
	t, err := rc.target(cmd.CommandMeta().Type)
	if err != nil {
		return nil, records.EncodedCommand{}, err
	}
	enc, err := t.Commands.EncodeCommand(cmd, now)
	if err != nil {
		return nil, enc, err
	}
	m := enc.Meta
	typ, ok := t.types[m.Type]
	if !ok {
		typ = []byte(m.Type)
	}
	return &kgo.Record{
		Topic: t.CommandsTopic,
		Key:   []byte(m.AggregateID),
		Value: enc.Value,
		Headers: []kgo.RecordHeader{
			{Key: records.HeaderType, Value: typ},
			{Key: records.HeaderCommandID, Value: []byte(m.CommandID)},
			{Key: records.HeaderCorrelationID, Value: []byte(m.CorrelationID)},
			{Key: records.HeaderCausationID, Value: []byte(m.CausationID)},
			{Key: records.HeaderSchema, Value: enc.Schema},
		},
	}, enc, nil
}

// typeList is "A, B, C or D".
func typeList(types []string) string {
	switch len(types) {
	case 0:
		return "none"
	case 1:
		return types[0]
	}
	return strings.Join(types[:len(types)-1], ", ") + " or " + types[len(types)-1]
}
