package kafkaconn

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// slogLogger routes franz-go's log lines through slog, so they follow the
// command's --log-level and --log-format like every other line.
type slogLogger struct{ l *slog.Logger }

// NewLogger adapts l for kgo.WithLogger. franz-go's info and warning lines
// (connections, group joins, every failed dial and retried request) are
// logged at debug: during a broker outage franz-go warns several times a
// second, while Prism's components report the outage themselves (/healthz
// and one line per state change, docs/processor.md, docs/sinks.md). Its
// errors are logged as errors.
func NewLogger(l *slog.Logger) kgo.Logger { return slogLogger{l.With("component", "kafka")} }

func (s slogLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case s.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	default:
		return kgo.LogLevelError
	}
}

func (s slogLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	}
	s.l.Log(context.Background(), lvl, msg, keyvals...)
}
