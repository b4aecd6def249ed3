// Package kafkaconn turns Prism's Kafka connection settings (brokers, TLS,
// SASL) into franz-go client options, so every command connects the same way.
package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is how to reach the Kafka cluster.
type Config struct {
	Brokers []string
	// TLS enables TLS; CAFile optionally names a PEM bundle to trust.
	TLS    bool
	CAFile string
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	SASLUser      string
	SASLPassword  string // never logged or printed
	// ProbeTimeout bounds Probe; 0 means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// Logger, when set, receives franz-go's own log lines (NewLogger).
	Logger *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka: no brokers (set --brokers or PRISM_KAFKA_BROKERS)"))
	}
	for _, b := range c.Brokers {
		if strings.TrimSpace(b) == "" {
			errs = append(errs, errors.New("kafka: empty broker address in list"))
		}
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASLUser == "" {
			errs = append(errs, fmt.Errorf("kafka: SASL mechanism %s needs a user", c.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka: unknown SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.SASLMechanism))
	}
	if c.CAFile != "" && !c.TLS {
		errs = append(errs, errors.New("kafka: a CA file is set but TLS is off"))
	}
	return errors.Join(errs...)
}

// String prints the settings without the password.
func (c Config) String() string {
	s := "brokers=" + strings.Join(c.Brokers, ",")
	if c.TLS {
		s += " tls=on"
	}
	if c.SASLMechanism != "" {
		s += " sasl=" + c.SASLMechanism + " user=" + c.SASLUser + " password=***"
	}
	return s
}

// Opts returns the franz-go options for this connection. Callers append
// their own (group, transactional id, ...).
func (c Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.Logger != nil {
		opts = append(opts, kgo.WithLogger(NewLogger(c.Logger)))
	}
	if c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka: read CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka: CA file %s holds no PEM certificate", c.CAFile)
			}
			tc.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ValidInstanceID applies Kafka's rule for a group.instance.id (the same as
// for topic names): 1 to 249 of a-z A-Z 0-9 . _ -. A broker refuses any
// other id at every join.
func ValidInstanceID(id string) bool {
	if len(id) == 0 || len(id) > 249 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}
