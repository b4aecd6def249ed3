package kafkaconn

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// slogLogger routes franz-go's log lines through slog, so they follow the
// command's --log-level and --log-format like every other line.
type slogLogger struct{ l *slog.Logger }

// NewLogger adapts l for kgo.WithLogger: every franz-go line is logged at
// debug, with its own level as kafka_level. While a broker is down
// franz-go warns and errs on every failed dial, request and group join
// (several lines a second); Prism's components report such outages
// themselves (/healthz and one line per state change: docs/processor.md,
// docs/sinks.md), so franz-go's lines are details for --log-level debug.
func NewLogger(l *slog.Logger) kgo.Logger { return slogLogger{l.With("component", "kafka")} }

func (s slogLogger) Level() kgo.LogLevel {
	if s.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelNone
}

func (s slogLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	s.l.Debug(msg, append(keyvals, "kafka_level", level.String())...)
}
