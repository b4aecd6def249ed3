package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/prism-cqrs/prism/sinks"
)

// replyError is a Redis error reply, as go-redis returns it.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err                  error
		transient, permanent bool
	}{
		{fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED), true, false},
		{io.EOF, true, false},
		{context.DeadlineExceeded, true, false},
		{replyError("LOADING Redis is loading the dataset in memory"), true, false},
		{replyError("WRONGPASS invalid username-password pair or user is disabled."), false, true},
		{replyError("NOAUTH Authentication required."), false, true},
		{replyError("NOPERM User u has no permissions to run the 'evalsha' command"), false, true},
		{replyError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"), false, true},
		{replyError("ERR DB index is out of range"), false, true},
		{replyError("ERR Error running script"), false, false},
		{context.Canceled, false, false},
	} {
		got := classify("load apply script", tc.err)
		if errors.Is(got, sinks.ErrTransient) != tc.transient || errors.Is(got, sinks.ErrPermanent) != tc.permanent {
			t.Errorf("classify(%q) = %q: transient %v permanent %v, want %v %v", tc.err, got,
				errors.Is(got, sinks.ErrTransient), errors.Is(got, sinks.ErrPermanent), tc.transient, tc.permanent)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("classify(%q) lost the error: %v", tc.err, got)
		}
	}
}
