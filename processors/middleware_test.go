package processors

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// TestMiddlewareRejectsAndObserves: a configured middleware rejects some
// commands with its own reason code (a result, no event, the state
// unchanged, counted under that outcome) and lets the others through; the
// chain's timing histogram counts every command; Prism's logging
// middleware logs each with its topic, partition and offset.
func TestMiddlewareRejectsAndObserves(t *testing.T) {
	c := fakeKafka(t, 2)
	cfg := testConfig(c)
	logs := &testkit.LogBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var seen sync.Map
	cfg.Middleware = []Middleware{
		func(next Handler) Handler { // authorization: key "mallory" may not write
			return func(ctx context.Context, call Call) Outcome {
				if string(call.Record.Key) == "mallory" {
					out, err := call.Reject("UNAUTHORIZED", "mallory may not write")
					if err != nil {
						t.Error(err)
					}
					return out
				}
				return next(ctx, call)
			}
		},
		func(next Handler) Handler { // runs after the first: sees only what it let through
			return func(ctx context.Context, call Call) Outcome {
				seen.Store(string(call.Record.Key), true)
				return next(ctx, call)
			}
		},
	}
	eng := startEngine(t, cfg)
	produce(t, c, cmd("alice", "add:2"), cmd("mallory", "add:5"), cmd("alice", "add:3"), cmd("mallory", "add:1"))
	results := waitRecords(t, c, tResults, 4)
	var rejected, ok int
	for _, r := range results {
		switch v := string(r.Value); {
		case v == "rejected UNAUTHORIZED: mallory may not write":
			rejected++
		case strings.HasPrefix(v, "ok count="):
			ok++
		default:
			t.Errorf("result %q", v)
		}
	}
	if rejected != 2 || ok != 2 {
		t.Fatalf("%d rejected, %d accepted; want 2 and 2", rejected, ok)
	}
	got, _ := eventsByKey(readCommitted(t, c, tEvents))
	if len(got["mallory"]) != 0 || strings.Join(got["alice"], ",") != "count=2,count=5" {
		t.Fatalf("events %v: want none for mallory, alice count=2,count=5", got)
	}
	if _, ok := seen.Load("mallory"); ok {
		t.Error("the second middleware saw a command the first rejected")
	}
	if v := metricValue(t, eng.e.m.commands.WithLabelValues("UNAUTHORIZED")); v != 2 {
		t.Errorf("commands_total{outcome=UNAUTHORIZED} = %v, want 2", v)
	}
	if n := metricValue(t, eng.e.m.handleSeconds); n != 4 {
		t.Errorf("handle_seconds counted %v commands, want 4", n)
	}
	eng.stop(t)
	var lines int
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "command handled") {
			lines++
			for _, attr := range []string{"topic=" + tCommands, "partition=", "offset=", "outcome="} {
				if !strings.Contains(l, attr) {
					t.Errorf("log line without %s: %s", attr, l)
				}
			}
		}
	}
	if lines != 4 {
		t.Errorf("%d 'command handled' log lines, want 4", lines)
	}
}

// TestCallRejectWithoutRejecter: an aggregate that cannot build a
// rejection makes Reject fail, not invent a result.
func TestCallRejectWithoutRejecter(t *testing.T) {
	type plain struct{ Aggregate }
	c := NewCall(&kgo.Record{}, nil, nil, time.Now(), plain{})
	if _, err := c.Reject("X", "y"); err != ErrCannotReject {
		t.Fatalf("err %v, want ErrCannotReject", err)
	}
}
