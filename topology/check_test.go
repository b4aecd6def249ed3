package topology

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCheckTopics(t *testing.T) {
	a, _ := fakeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spec := mustSpec(t, 3)
	n := spec.Names("payments")

	_, err := CheckTopics(ctx, a.cl, n.EventsTopic(), n.EventsDLQTopic())
	if !errors.Is(err, ErrTopicMissing) {
		t.Fatalf("empty cluster: %v, want ErrTopicMissing", err)
	}
	want := "k.payments.events, k.payments.events.dlq: topics do not exist (create them with `prism topology apply`)"
	if err.Error() != want {
		t.Errorf("empty cluster:\n got %q\nwant %q", err, want)
	}

	if _, err := a.Apply(ctx, spec, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	parts, err := CheckTopics(ctx, a.cl, n.CommandsTopic(), n.EventsTopic())
	if err != nil {
		t.Fatalf("applied topology: %v", err)
	}
	if parts[n.CommandsTopic()] != 3 || parts[n.EventsTopic()] != 3 || len(parts) != 2 {
		t.Errorf("partitions = %v, want 3 for both topics", parts)
	}

	_, err = CheckTopics(ctx, a.cl, n.EventsTopic(), "k.other")
	want = "k.other: topic does not exist (create it with `prism topology apply`)"
	if !errors.Is(err, ErrTopicMissing) || err.Error() != want {
		t.Errorf("one missing: got %v, want %q", err, want)
	}
}

func TestCheckTopicsNamesUnreachableBrokers(t *testing.T) {
	// A port that was just free: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = CheckTopics(ctx, cl, "k.payments.events")
	if err == nil || !strings.Contains(err.Error(), "reach Kafka at "+addr) || errors.Is(err, ErrTopicMissing) {
		t.Fatalf("unreachable broker: %v, want an error naming %s", err, addr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused connection took %s to report", d)
	}
}

func TestCheckTopicsNamesASilentBroker(t *testing.T) {
	// Accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = CheckTopics(ctx, cl, "k.payments.events")
	if err == nil || !strings.Contains(err.Error(), "reach Kafka at "+ln.Addr().String()+": no answer in time") {
		t.Fatalf("silent broker: %v", err)
	}
}

func TestCheckReady(t *testing.T) {
	a, addrs := fakeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spec := mustSpec(t, 3)
	err := CheckReady(ctx, a.cl, spec.Names("payments"))
	if !errors.Is(err, ErrNotReady) || !errors.Is(err, ErrTopicMissing) || !strings.Contains(err.Error(), "k.payments.commands") {
		t.Fatalf("empty cluster: %v, want ErrNotReady naming the topics", err)
	}
	if _, err := a.Apply(ctx, spec, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := CheckReady(ctx, a.cl, spec.Names("payments")); err != nil {
		t.Fatalf("applied topology: %v", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).UpdatePartitions(ctx, 5, "k.payments.events"); err != nil {
		t.Fatal(err)
	}
	if err := CheckReady(ctx, a.cl, spec.Names("payments")); !errors.Is(err, ErrNotCoPartitioned) {
		t.Fatalf("events raised by hand: %v, want ErrNotCoPartitioned", err)
	}
}
