package pgstore

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/prism-cqrs/prism/sinks"
)

// Classify wraps err with sinks.ErrTransient when retrying may succeed:
// every error that is not a Postgres error (connection refused, reset,
// timeout, pool closed) and Postgres errors of the classes 08 (connection),
// 40 (serialization failure, deadlock), 53 (insufficient resources), 57
// (operator intervention: shutdown, cannot connect now), 58 (system error)
// and 55P03 (lock not available). Other Postgres errors are returned as is.
func Classify(err error) error {
	if err == nil || errors.Is(err, sinks.ErrTransient) || errors.Is(err, sinks.ErrStoreOwned) {
		return err
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return fmt.Errorf("%w: %w", sinks.ErrTransient, err)
	}
	switch {
	case len(pg.Code) >= 2 && (pg.Code[:2] == "08" || pg.Code[:2] == "40" || pg.Code[:2] == "53" || pg.Code[:2] == "57" || pg.Code[:2] == "58"),
		pg.Code == "55P03":
		return fmt.Errorf("%w: %w", sinks.ErrTransient, err)
	}
	return err
}

// IsUniqueViolation reports whether err is Postgres' unique_violation
// (23505).
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}
