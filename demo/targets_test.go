package demo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCheckTargets: targets that answer pass; one that refuses and one
// that hangs are both named, the hanging one after the timeout, not later.
func TestCheckTargets(t *testing.T) {
	answers := Target{Name: "redis", Address: "redis://r:6379/0", Ping: func(context.Context) error { return nil }}
	refuses := Target{Name: "postgres", Address: "postgres://p:5432/db", Ping: func(context.Context) error { return errors.New("connection refused") }}
	hangs := Target{Name: "elasticsearch", Address: "http://e:9200", Ping: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}

	if err := CheckTargets(context.Background(), []Target{answers}, time.Second); err != nil {
		t.Fatalf("all answer: %v", err)
	}
	start := time.Now()
	err := CheckTargets(context.Background(), []Target{answers, refuses, hangs}, 200*time.Millisecond)
	took := time.Since(start)
	if err == nil {
		t.Fatal("no error with a target refusing and one hanging")
	}
	for _, want := range []string{"postgres at postgres://p:5432/db: connection refused", "elasticsearch at http://e:9200: no answer within 200ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "redis") {
		t.Errorf("error %q names the target that answers", err)
	}
	if took > 5*time.Second {
		t.Errorf("took %s with a 200ms timeout", took)
	}
}
