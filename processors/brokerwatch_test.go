package processors

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestBrokerWatchMeasuresUnreachablePeriods(t *testing.T) {
	now := time.Unix(1000, 0)
	w := newBrokerWatch(func() time.Time { return now })
	read := func(err error) { w.OnBrokerRead(kgo.BrokerMetadata{}, 0, 0, 0, 0, err) }
	dialErr := errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")

	now = now.Add(10 * time.Second)
	if d, _ := w.unreachable(); d != 0 {
		t.Fatalf("no failure yet: unreachable %s, want 0 (an idle engine is not unreachable)", d)
	}
	w.OnBrokerConnect(kgo.BrokerMetadata{}, 0, nil, dialErr)
	now = now.Add(5 * time.Second)
	if d, last := w.unreachable(); d != 15*time.Second || last != dialErr.Error() {
		t.Fatalf("unreachable %s %q, want 15s since the last answer and the dial error", d, last)
	}
	read(context.DeadlineExceeded) // our own timeout: no news
	read(nil)
	if d, last := w.unreachable(); d != 0 || last != "" {
		t.Fatalf("after an answer: unreachable %s %q, want 0", d, last)
	}
	now = now.Add(time.Second)
	read(context.Canceled)
	if d, _ := w.unreachable(); d != 0 {
		t.Fatalf("a cancelled request made the broker unreachable (%s)", d)
	}
}

func TestFatalKafkaErrorOnlyForWhatWaitingCannotHeal(t *testing.T) {
	for _, c := range []struct {
		err   error
		fatal bool
	}{
		{fmt.Errorf("end: %w", kerr.ProducerFenced), true},
		{kerr.InvalidProducerEpoch, true},
		{kerr.FencedInstanceID, true},
		{kerr.TransactionalIDAuthorizationFailed, true},
		{kerr.GroupAuthorizationFailed, true},
		{kerr.TopicAuthorizationFailed, true},
		{errors.New("unable to dial: dial tcp 127.0.0.1:9092: connect: connection refused"), false},
		{context.DeadlineExceeded, false},
		{kerr.NotCoordinator, false},
		{kerr.CoordinatorNotAvailable, false},
		{kerr.RebalanceInProgress, false},
		{kerr.ConcurrentTransactions, false},
	} {
		if got := IsFatalKafkaError(c.err); got != c.fatal {
			t.Errorf("IsFatalKafkaError(%v) = %v, want %v", c.err, got, c.fatal)
		}
	}
}

func TestEndContextGivesAShutdownAGraceNotTheWholeTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ectx, stop := endContext(ctx, time.Hour)
	defer stop()
	select {
	case <-ectx.Done():
		t.Fatal("the end context ended before the shutdown")
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	cancel()
	<-ectx.Done()
	if took := time.Since(start); took < shutdownGrace-100*time.Millisecond || took > shutdownGrace+time.Second {
		t.Fatalf("end context ended %s after the shutdown, want about %s", took, shutdownGrace)
	}
}
