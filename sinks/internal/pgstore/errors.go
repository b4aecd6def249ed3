package pgstore

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/prism-cqrs/prism/sinks"
)

// Classify wraps err with sinks.ErrPermanent when retrying with the same
// settings cannot succeed, with sinks.ErrTransient when retrying may
// succeed, and returns other errors as is.
//
// Permanent: Postgres errors of the class 28 (invalid authorization: wrong
// password, no such role, pg_hba refuses), 3D000 (the database does not
// exist) and 42501 (insufficient privilege), and a TLS setup the server
// refuses or a certificate that does not verify.
//
// Transient: every other error that is not a Postgres error (connection
// refused, reset, timeout, pool closed) and Postgres errors of the classes
// 08 (connection), 40 (serialization failure, deadlock), 53 (insufficient
// resources), 57 (operator intervention: shutdown, cannot connect now), 58
// (system error) and 55P03 (lock not available).
func Classify(err error) error {
	if err == nil || errors.Is(err, sinks.ErrTransient) || errors.Is(err, sinks.ErrPermanent) || errors.Is(err, sinks.ErrStoreOwned) {
		return err
	}
	if permanent(err) {
		return fmt.Errorf("%w: %w", sinks.ErrPermanent, err)
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

// permanent reports whether err is one of Classify's permanent errors.
func permanent(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "28") || pg.Code == "3D000" || pg.Code == "42501"
	}
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var badCert x509.CertificateInvalidError
	return errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &badCert) ||
		strings.Contains(err.Error(), "server refused TLS connection")
}

// IsUniqueViolation reports whether err is Postgres' unique_violation
// (23505).
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}
