package processors

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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

func TestEngineRidesOutATransactionEndThatFails(t *testing.T) {
	c := fakeKafka(t, 2)
	var until time.Time
	var failedEnds int
	// Every EndTxn fails (the connection drops, as when the broker goes
	// away) for 2 s from the first commit: longer than the end timeout, so
	// the engine's End fails and it must start over without exiting.
	c.ControlKey(kmsg.EndTxn.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if until.IsZero() && kreq.(*kmsg.EndTxnRequest).Commit {
			until = time.Now().Add(2 * time.Second)
		}
		if time.Now().Before(until) {
			failedEnds++
			return nil, errors.New("broker gone"), true
		}
		return nil, nil, false
	})
	cfg := testConfig(c)
	cfg.EndTimeout = 500 * time.Millisecond
	r := startEngine(t, cfg)
	produce(t, c, cmd("k", "add:5"))
	waitRecords(t, c, tResults, 1)
	if failedEnds == 0 {
		t.Fatal("the injected EndTxn failure never happened")
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v after a failed transaction end, want it to go on", err)
	default:
	}
	produce(t, c, cmd("k", "add:1"))
	results := waitRecords(t, c, tResults, 2)
	if got := values(results); fmt.Sprint(got) != "[ok count=5 ok count=6]" {
		t.Fatalf("results = %v, want [ok count=5 ok count=6] (each command once, state as committed)", got)
	}
	if v := metricValue(t, r.e.m.sessionRestarts); v < 1 {
		t.Errorf("session_restarts_total = %v, want >= 1", v)
	}
	if h := r.e.Health(); h.Reason != "" || !h.Running {
		t.Errorf("health after recovery = %+v, want running without a reason", h)
	}
}
