package pgstore

import (
	"context"
	"crypto/x509"
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
		permanent bool
	}{
		{"connection reset (not a Postgres error)", fmt.Errorf("write: %w", io.ErrUnexpectedEOF), true, false},
		{"deadline", context.DeadlineExceeded, true, false},
		{"admin shutdown 57P01", &pgconn.PgError{Code: "57P01"}, true, false},
		{"cannot connect now 57P03", &pgconn.PgError{Code: "57P03"}, true, false},
		{"deadlock 40P01", &pgconn.PgError{Code: "40P01"}, true, false},
		{"serialization 40001", &pgconn.PgError{Code: "40001"}, true, false},
		{"connection failure 08006", &pgconn.PgError{Code: "08006"}, true, false},
		{"lock not available 55P03", &pgconn.PgError{Code: "55P03"}, true, false},
		{"undefined table 42P01", &pgconn.PgError{Code: "42P01"}, false, false},
		{"invalid text 22021", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "22021"}), false, false},
		{"unique violation 23505", &pgconn.PgError{Code: "23505"}, false, false},
		{"wrong password 28P01", fmt.Errorf("connect: %w", &pgconn.PgError{Code: "28P01"}), false, true},
		{"no such role / pg_hba 28000", &pgconn.PgError{Code: "28000"}, false, true},
		{"no such database 3D000", &pgconn.PgError{Code: "3D000"}, false, true},
		{"insufficient privilege 42501", &pgconn.PgError{Code: "42501"}, false, true},
		{"TLS refused by the server", errors.New("failed to connect to `user=u database=d`: server refused TLS connection"), false, true},
		{"certificate signed by an unknown authority", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.err)
			if errors.Is(got, sinks.ErrTransient) != tc.transient {
				t.Fatalf("Classify(%v) transient = %v, want %v", tc.err, !tc.transient, tc.transient)
			}
			if errors.Is(got, sinks.ErrPermanent) != tc.permanent {
				t.Fatalf("Classify(%v) permanent = %v, want %v", tc.err, !tc.permanent, tc.permanent)
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
