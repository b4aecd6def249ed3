package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/prism-cqrs/prism/sinks"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"connection reset (not a Postgres error)", fmt.Errorf("write: %w", io.ErrUnexpectedEOF), true},
		{"deadline", context.DeadlineExceeded, true},
		{"admin shutdown 57P01", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now 57P03", &pgconn.PgError{Code: "57P03"}, true},
		{"deadlock 40P01", &pgconn.PgError{Code: "40P01"}, true},
		{"serialization 40001", &pgconn.PgError{Code: "40001"}, true},
		{"connection failure 08006", &pgconn.PgError{Code: "08006"}, true},
		{"lock not available 55P03", &pgconn.PgError{Code: "55P03"}, true},
		{"undefined table 42P01", &pgconn.PgError{Code: "42P01"}, false},
		{"invalid text 22021", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "22021"}), false},
		{"unique violation 23505", &pgconn.PgError{Code: "23505"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.err)
			if errors.Is(got, sinks.ErrTransient) != tc.transient {
				t.Fatalf("Classify(%v) transient = %v, want %v", tc.err, !tc.transient, tc.transient)
			}
			if !errors.Is(got, tc.err) {
				t.Fatalf("Classify lost the original error: %v", got)
			}
		})
	}
	if Classify(nil) != nil {
		t.Fatal("Classify(nil) != nil")
	}
}
