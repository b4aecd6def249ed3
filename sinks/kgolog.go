package sinks

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kgoLogger takes franz-go's own log lines for the runner's clients and
// logs them at debug level. While Kafka is down franz-go warns on every
// failed dial and group join (several lines a second); the runner reports
// the outage itself (probe: one warning, a reminder a minute, one line when
// it ends), so these stay details for --log-level debug. It replaces any
// logger given in RunnerConfig.KafkaOpts.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	k.l.Debug(msg, append(keyvals, "component", "kafka", "kafka_level", level.String())...)
}
