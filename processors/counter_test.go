package processors

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// counterAggregate is a tiny aggregate for engine tests: the state of a key
// is an int64 counter.
//
//	"add:N"  -> count += N; one event "count=<new>"; result "ok count=<new>"
//	"del"    -> events "gone" and a tombstone; result "ok deleted";
//	            on a missing counter: result "rejected NOT_FOUND", no event
//	"panic"  -> Handle panics
//	"big"    -> an event of 2 MiB (more than a producer batch may hold)
//	anything else fails to decode (class "garbage")
type counterAggregate struct{}

var errGarbage = errors.New("not a counter command")

type counterCmd struct {
	op  string
	n   int64
	src string // partition/offset of the command record, the result key
	key []byte
}

func (counterAggregate) DecodeCommand(r *kgo.Record) (Command, error) {
	src := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
	v := string(r.Value)
	switch {
	case v == "del", v == "panic", v == "big":
		return counterCmd{op: v, src: src, key: r.Key}, nil
	case strings.HasPrefix(v, "add:"):
		n, err := strconv.ParseInt(v[4:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errGarbage, err)
		}
		return counterCmd{op: "add", n: n, src: src, key: r.Key}, nil
	}
	return nil, fmt.Errorf("%w: %q", errGarbage, v)
}

func (counterAggregate) DecodeState(v []byte) (State, error) {
	s := string(v)
	if s == "gone" {
		return nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "count="), 10, 64)
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (counterAggregate) Handle(state State, c Command, _ time.Time) Outcome {
	cmd := c.(counterCmd)
	key := cmd.key
	result := func(s string) Output { return Output{Key: []byte(cmd.src), Value: []byte(s)} }
	switch cmd.op {
	case "panic":
		panic("boom")
	case "big":
		return Outcome{
			Events:   []Output{{Key: key, Value: incompressible(2 << 20)}},
			Result:   result("ok big"),
			NewState: state,
			Label:    "accepted",
		}
	case "del":
		if state == nil {
			return Outcome{Result: result("rejected NOT_FOUND"), NewState: nil, Label: "NOT_FOUND"}
		}
		return Outcome{
			Events:   []Output{{Key: key, Value: []byte("gone")}, {Key: key, Value: nil}},
			Result:   result("ok deleted"),
			NewState: nil,
			Label:    "accepted",
		}
	}
	var cur int64
	if state != nil {
		cur = state.(int64)
	}
	cur += cmd.n
	v := "count=" + strconv.FormatInt(cur, 10)
	return Outcome{
		Events:   []Output{{Key: key, Value: []byte(v)}},
		Result:   result("ok " + v),
		NewState: cur,
		Label:    "accepted",
	}
}

func (counterAggregate) ErrorClass(err error) string {
	if errors.Is(err, errGarbage) {
		return "garbage"
	}
	return "unknown"
}

// incompressible returns n bytes that compression cannot shrink.
func incompressible(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// Reject implements Rejecter: result "rejected <reason>: <message>".
func (counterAggregate) Reject(state State, c Command, reason, message string, _ time.Time) Outcome {
	cmd := c.(counterCmd)
	return Outcome{Result: Output{Key: []byte(cmd.src), Value: []byte("rejected " + reason + ": " + message)}, NewState: state, Label: reason}
}
