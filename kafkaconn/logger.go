package kafkaconn

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// slogLogger routes franz-go's log lines through slog, so they follow the
// command's --log-level and --log-format like every other line.
type slogLogger struct{ l *slog.Logger }

// NewLogger adapts l for kgo.WithLogger. franz-go's info lines (connections,
// group joins) are logged at debug; its warnings and errors as such.
func NewLogger(l *slog.Logger) kgo.Logger { return slogLogger{l.With("component", "kafka")} }

func (s slogLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case s.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case s.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	default:
		return kgo.LogLevelError
	}
}

func (s slogLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	}
	s.l.Log(context.Background(), lvl, msg, keyvals...)
}
