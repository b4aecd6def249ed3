package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/sinks"
)

// transientPrefixes are Redis error replies that go away by themselves
// (loading a dataset, a long script, failover, memory pressure, a script
// cache emptied by a restart).
var transientPrefixes = []string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "OOM", "NOSCRIPT"}

// classify wraps err with what was being done, and with sinks.ErrTransient
// when retrying can succeed: Redis unreachable, connection lost, timeouts,
// pool exhausted, or one of transientPrefixes. A cancelled context is
// returned as is (the runtime is stopping).
func classify(what string, err error) error {
	if isTransient(err) {
		return fmt.Errorf("redis: %s: %w: %w", what, sinks.ErrTransient, err)
	}
	return fmt.Errorf("redis: %s: %w", what, err)
}

func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, goredis.ErrPoolTimeout) {
		return true
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		for _, p := range transientPrefixes {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
	}
	return false
}
