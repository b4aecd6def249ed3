package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DefaultProbeTimeout bounds Probe when Config.ProbeTimeout is 0: how long a
// command waits at start for a broker to answer before it gives up with a
// message that says why.
const DefaultProbeTimeout = 10 * time.Second

// ErrNoBroker is returned (wrapped) by Probe when no seed broker answers as
// a Kafka broker.
var ErrNoBroker = errors.New("no broker answered")

// ErrNotListening is wrapped by Probe's error for an address where nothing
// accepts connections: a broker that is down or restarting, which a
// long-running component may wait for (prism process does), unlike a peer
// that answers but is not Kafka.
var ErrNotListening = errors.New("nothing is listening there (connection refused)")

// Probe checks, within Config.ProbeTimeout, that at least one seed broker answers a
// Kafka ApiVersions request over the configured TLS and SASL. Every command
// that talks to Kafka calls it first, so a wrong --brokers fails fast and
// the same way everywhere instead of in a client's own timeout. When none
// answers, the error names each address and its problem: nothing listening
// (connection refused), a peer that is not a Kafka broker (it closed the
// connection, sent garbage or stayed silent), a failed TLS handshake or a
// refused SASL login. It wraps ErrNoBroker.
func (c Config) Probe(ctx context.Context) error {
	opts, err := c.Opts()
	if err != nil {
		return err
	}
	timeout := c.ProbeTimeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errs := make([]error, len(c.Brokers))
	var wg sync.WaitGroup
	for i, addr := range c.Brokers {
		wg.Go(func() { errs[i] = c.probeBroker(pctx, opts, addr, timeout) })
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka: probe brokers: %w", err) // interrupted by the caller
	}
	return fmt.Errorf("kafka: %w (--brokers %s): %w", ErrNoBroker, strings.Join(c.Brokers, ","), errors.Join(errs...))
}

// probeBroker sends one ApiVersions request to addr alone (no retries).
func (c Config) probeBroker(ctx context.Context, opts []kgo.Opt, addr string, timeout time.Duration) error {
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)], kgo.SeedBrokers(addr), kgo.DialTimeout(timeout))...)
	if err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	defer cl.Close()
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return fmt.Errorf("%s: not a host:port", addr)
	}
	_, err = seeds[0].Request(ctx, kmsg.NewPtrApiVersionsRequest())
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: the peer did not answer as a Kafka broker within %s (is this a Kafka listener?)", addr, timeout)
	}
	return c.describeProbeError(addr, err)
}

// describeProbeError says in words what a failed first request means. A
// refused login names the mechanism and the user, never the password.
func (c Config) describeProbeError(addr string, err error) error {
	var dnsErr *net.DNSError
	var recErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var kafkaErr *kerr.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: %w", addr, ErrNotListening)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("%s: cannot resolve the host: %w", addr, err)
	case errors.As(err, &certErr), errors.As(err, &unknownAuth):
		return fmt.Errorf("%s: TLS handshake failed: the broker's certificate is not trusted (check --kafka-ca-file%s): %w", addr, c.caHint(), err)
	case errors.As(err, &recErr):
		return fmt.Errorf("%s: TLS handshake failed (does this listener speak TLS? check --kafka-tls): %w", addr, err)
	// franz-go's own diagnoses, made more direct with the settings in use.
	case !c.TLS && strings.Contains(err.Error(), "speaking to a tls endpoint"):
		return fmt.Errorf("%s: this listener speaks TLS and --kafka-tls is off: %w", addr, err)
	case c.TLS && strings.Contains(err.Error(), "using TLS when the broker is not expecting it"):
		return fmt.Errorf("%s: --kafka-tls is on and this listener does not seem to speak TLS: %w", addr, err)
	case c.SASLMechanism == "" && strings.Contains(err.Error(), "SASL is required but not provided"):
		return fmt.Errorf("%s: this listener seems to require SASL and --kafka-sasl-mechanism is not set: %w", addr, err)
	case errors.As(err, &kafkaErr) && isSASLError(kafkaErr):
		if c.SASLMechanism != "" && kafkaErr != kerr.SaslAuthenticationFailed {
			return fmt.Errorf("%s: SASL %s login as user %q failed: this listener does not take SASL %s (check --kafka-sasl-mechanism and --brokers): %w",
				addr, strings.ToUpper(c.SASLMechanism), c.SASLUser, strings.ToUpper(c.SASLMechanism), err)
		}
		if c.SASLMechanism == "" {
			return fmt.Errorf("%s: SASL login failed (does this listener take SASL? check --kafka-sasl-mechanism, --kafka-sasl-user and PRISM_KAFKA_SASL_PASSWORD): %w", addr, err)
		}
		return fmt.Errorf("%s: SASL %s login as user %q refused (check --kafka-sasl-user and PRISM_KAFKA_SASL_PASSWORD): %w",
			addr, strings.ToUpper(c.SASLMechanism), c.SASLUser, err)
	case errors.As(err, &kafkaErr):
		return fmt.Errorf("%s: the broker refused the connection: %w", addr, err)
	default:
		return fmt.Errorf("%s: the peer did not answer as a Kafka broker (is this a Kafka listener?): %w", addr, err)
	}
}

// caHint names the CA file in use, or says the system's roots are.
func (c Config) caHint() string {
	if c.CAFile == "" {
		return "; none set, so the system's roots are trusted"
	}
	return "; now " + c.CAFile
}

func isSASLError(e *kerr.Error) bool {
	switch e {
	case kerr.SaslAuthenticationFailed, kerr.IllegalSaslState, kerr.UnsupportedSaslMechanism:
		return true
	}
	return false
}
