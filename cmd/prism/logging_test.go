package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestJSONLinesMakesEveryLineAnObject(t *testing.T) {
	var buf bytes.Buffer
	j := newJSONLines(&buf)
	fmt.Fprint(j, "namespace x: topics ready\n")
	fmt.Fprint(j, `{"commandId":"c-1","accepted":true}`+"\n")
	fmt.Fprint(j, "summary: produced=9 skipped=0 failed=0 accepted=8 rejected=1 unanswered=0\n")
	fmt.Fprint(j, "error: produce: boom\nWARNING: careful\n\n")
	fmt.Fprint(j, "writing  10% |##    |\rwriting 100% |######|")
	j.Flush()

	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "namespace x: topics ready"},
		{"commandId": "c-1", "accepted": true},
		{"level": "INFO", "msg": "summary", "produced": 9.0, "skipped": 0.0, "failed": 0.0, "accepted": 8.0, "rejected": 1.0, "unanswered": 0.0},
		{"level": "ERROR", "msg": "produce: boom"},
		{"level": "WARN", "msg": "careful"},
		{"level": "INFO", "msg": "writing 100% |######|"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v (%v)", i, k, got[i][k], v, got[i])
			}
		}
		if _, isRecord := w["msg"]; isRecord && got[i]["time"] == nil {
			t.Errorf("line %d has no time: %v", i, got[i])
		}
	}
}

func TestReadableDurations(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: readableDurations})).
		Info("x", "wait", 1500*time.Millisecond, slog.Group("g", "d", 250*time.Microsecond))
	var m struct {
		Wait string             `json:"wait"`
		G    struct{ D string } `json:"g"`
	}
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Wait != "1.5s" || m.G.D != "250µs" {
		t.Errorf("wait=%q g.d=%q, want 1.5s and 250µs (%s)", m.Wait, m.G.D, buf.String())
	}
}
