package kafkaconn_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/prism-cqrs/prism/kafkaconn"
)

// listen serves every connection with serve until the test ends.
func listen(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbe(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	kafka := cluster.ListenAddrs()[0]
	refused := closedAddr(t)
	// A silent peer accepts and never answers (a firewall, a stuck service).
	silent := listen(t, func(c net.Conn) { defer c.Close(); time.Sleep(5 * time.Second) })
	// A talking peer answers something that is not Kafka and hangs up, as
	// an HTTP or Redis server may.
	talking := listen(t, func(c net.Conn) {
		defer c.Close()
		_, _ = c.Read(make([]byte, 512))
		_, _ = c.Write([]byte("-ERR unknown command\r\n"))
	})
	const bound = time.Second
	for _, tc := range []struct {
		name    string
		brokers []string
		want    string // "" means success
	}{
		{"kafka", []string{kafka}, ""},
		{"one of two seeds answers", []string{refused, kafka}, ""},
		{"connection refused", []string{refused}, refused + ": nothing is listening there (connection refused)"},
		{"silent peer", []string{silent}, silent + ": the peer did not answer as a Kafka broker within 1s"},
		{"not kafka", []string{talking}, talking + ": the peer did not answer as a Kafka broker"},
		{"each seed is named", []string{refused, silent}, "--brokers " + refused + "," + silent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := kafkaconn.Config{Brokers: tc.brokers, ProbeTimeout: bound}.Probe(context.Background())
			if took := time.Since(start); took > bound+2*time.Second {
				t.Errorf("Probe took %s, bound %s", took, bound)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Probe error %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, kafkaconn.ErrNoBroker) {
				t.Errorf("Probe error does not wrap ErrNoBroker: %v", err)
			}
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	silent := listen(t, func(c net.Conn) { defer c.Close(); time.Sleep(5 * time.Second) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := kafkaconn.Config{Brokers: []string{silent}}.Probe(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Probe after cancel: %v, want context.Canceled", err)
	}
}
