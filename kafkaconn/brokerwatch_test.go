package kafkaconn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBrokerWatchMeasuresUnreachablePeriods(t *testing.T) {
	now := time.Unix(1000, 0)
	w := NewBrokerWatch(func() time.Time { return now })
	read := func(err error) { w.OnBrokerRead(kgo.BrokerMetadata{}, 0, 0, 0, 0, err) }
	dialErr := errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")

	now = now.Add(10 * time.Second)
	if d, _ := w.Unreachable(); d != 0 {
		t.Fatalf("no failure yet: unreachable %s, want 0 (an idle engine is not unreachable)", d)
	}
	w.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, dialErr)
	now = now.Add(5 * time.Second)
	if d, last := w.Unreachable(); d != 15*time.Second || last != dialErr.Error() {
		t.Fatalf("unreachable %s %q, want 15s since the last answer and the dial error", d, last)
	}
	read(context.DeadlineExceeded) // our own timeout: no news
	read(nil)
	if d, last := w.Unreachable(); d != 0 || last != "" {
		t.Fatalf("after an answer: unreachable %s %q, want 0", d, last)
	}
	now = now.Add(time.Second)
	read(context.Canceled)
	if d, _ := w.Unreachable(); d != 0 {
		t.Fatalf("a cancelled request made the broker unreachable (%s)", d)
	}
}
