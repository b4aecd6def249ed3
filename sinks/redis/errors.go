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

// permanentPrefixes are Redis error replies that retrying with the same
// URL cannot fix: wrong user or password, a password given to a Redis that
// has none (or none given to one that has), no permission for a command, a
// database number the server does not have.
var permanentPrefixes = []string{"WRONGPASS", "NOAUTH", "NOPERM", "ERR AUTH", "ERR Client sent AUTH", "ERR invalid password", "ERR DB index is out of range", "ERR invalid DB index"}

// classify wraps err with what was being done, and with sinks.ErrTransient
// when retrying can succeed: Redis unreachable, connection lost, timeouts,
// pool exhausted, or one of transientPrefixes; with sinks.ErrPermanent for
// one of permanentPrefixes. A cancelled context is returned as is (the
// runtime is stopping).
func classify(what string, err error) error {
	switch {
	case isTransient(err):
		return fmt.Errorf("redis: %s: %w: %w", what, sinks.ErrTransient, err)
	case isPermanent(err):
		return fmt.Errorf("redis: %s: %w: %w", what, sinks.ErrPermanent, err)
	}
	return fmt.Errorf("redis: %s: %w", what, err)
}

func isPermanent(err error) bool {
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	for _, p := range permanentPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
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
