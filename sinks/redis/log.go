package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// RouteClientLogs sends go-redis' own log lines (one per failed dial of its
// pool, several a second while Redis is down) to l at debug level instead of
// the standard logger on stderr: the sink already reports each failed
// attempt once, as a structured warning. go-redis keeps one logger per
// process, so this is for main to call.
func RouteClientLogs(l *slog.Logger) { goredis.SetLogger(clientLogger{l}) }

type clientLogger struct{ l *slog.Logger }

func (c clientLogger) Printf(ctx context.Context, format string, v ...any) {
	c.l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
