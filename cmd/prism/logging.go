package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// readableDurations is the slog ReplaceAttr of every handler: a duration is
// written as Go prints it ("1.5s", "250ms") in both formats, never as the
// JSON handler's integer nanoseconds.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// redisLogger routes go-redis's own log lines (pool and reconnect
// messages, printed to stderr by default) through slog, at debug: while
// Redis is down go-redis logs every failed dial, and the redis sink
// reports the outage itself (/healthz, its own warnings). go-redis keeps
// its logger in a package variable, so main sets it once.
type redisLogger struct{}

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().Log(ctx, slog.LevelDebug, strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "), "component", "redis")
}

func init() { redis.SetLogger(redisLogger{}) }

// useJSONOutput makes every line the command writes on stdout and stderr
// outside slog a JSON object too (--log-format json): lines that already
// are JSON objects (produce --wait results, lag rows) pass unchanged; any
// other line becomes a record like slog's, {"time","level","msg"}, with
// level ERROR for "error: ..." lines and WARN for "WARNING: ..." ones, and
// the key=value pairs of a "label: k=v k=v" line (produce's summary) as
// fields. main flushes both at exit (flushOutput).
func useJSONOutput(root *cobra.Command) {
	root.SetOut(newJSONLines(os.Stdout))
	root.SetErr(newJSONLines(os.Stderr))
}

// flushOutput writes what is left of an unterminated last line.
func flushOutput(root *cobra.Command) {
	for _, w := range []io.Writer{root.OutOrStdout(), root.ErrOrStderr()} {
		if j, ok := w.(*jsonLines); ok {
			j.Flush()
		}
	}
}

// jsonLines is the io.Writer of useJSONOutput: it cuts what it is given
// into lines and writes each as one JSON object.
type jsonLines struct {
	mu  sync.Mutex
	w   io.Writer
	log *slog.Logger
	buf []byte
}

func newJSONLines(w io.Writer) *jsonLines {
	return &jsonLines{w: w, log: slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: readableDurations}))}
}

func (j *jsonLines) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			break
		}
		if err := j.emit(j.buf[:i]); err != nil {
			return len(p), err
		}
		j.buf = j.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a pending unterminated line.
func (j *jsonLines) Flush() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.buf) > 0 {
		_ = j.emit(j.buf)
		j.buf = nil
	}
}

func (j *jsonLines) emit(line []byte) error {
	// A progress bar redraws with '\r': keep only the last drawing.
	if i := bytes.LastIndexByte(bytes.TrimRight(line, "\r"), '\r'); i >= 0 {
		line = line[i+1:]
	}
	line = bytes.TrimRight(line, "\r \t")
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	if line[0] == '{' && json.Valid(line) {
		_, err := j.w.Write(append(line, '\n'))
		return err
	}
	msg, level := string(line), slog.LevelInfo
	switch {
	case strings.HasPrefix(msg, "error: "):
		msg, level = strings.TrimPrefix(msg, "error: "), slog.LevelError
	case strings.HasPrefix(msg, "WARNING: "):
		msg, level = strings.TrimPrefix(msg, "WARNING: "), slog.LevelWarn
	}
	label, attrs := keyValues(msg)
	if attrs != nil {
		msg = label
	}
	j.log.LogAttrs(context.Background(), level, msg, attrs...)
	return nil
}

// keyValues splits "label: k=v k=v" into the label and its pairs (numbers
// as numbers, anything else as a string); nil when the line is not of that form.
func keyValues(s string) (string, []slog.Attr) {
	label, rest, ok := strings.Cut(s, ": ")
	if !ok || label == "" || strings.ContainsAny(label, " =") {
		return "", nil
	}
	var attrs []slog.Attr
	for _, f := range strings.Fields(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return "", nil
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			attrs = append(attrs, slog.Int64(k, n))
		} else {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	return label, attrs
}
