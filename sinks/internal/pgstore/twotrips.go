package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Trips runs one transaction in two round trips on a pooled connection:
// BEGIN plus what first queues (reads and locks, results taken by the
// queued statements' callbacks), then middle on the transaction's
// connection (a COPY, for example; nil skips it), then what second returns
// (built from those results) plus COMMIT. Under load every round trip
// costs a scheduling of the server process, so a batch pays two instead
// of five.
//
// On any error the transaction is rolled back (best effort; a connection
// left in a transaction is discarded by the pool) and nothing is applied.
func Trips(ctx context.Context, pool *pgxpool.Pool, first func(b *pgx.Batch), middle func(ctx context.Context, conn *pgx.Conn) error,
	second func() (*pgx.Batch, error)) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	rollback := func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	b1 := &pgx.Batch{}
	b1.Queue("BEGIN")
	first(b1)
	if err := conn.SendBatch(ctx, b1).Close(); err != nil {
		rollback()
		return fmt.Errorf("first round trip: %w", err)
	}
	if middle != nil {
		if err := middle(ctx, conn.Conn()); err != nil {
			rollback()
			return err
		}
	}
	b2, err := second()
	if err != nil {
		rollback()
		return err
	}
	if b2 == nil {
		b2 = &pgx.Batch{}
	}
	b2.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b2).Close(); err != nil {
		rollback()
		return fmt.Errorf("second round trip: %w", err)
	}
	return nil
}
