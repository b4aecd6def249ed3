package testkit

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// KafkaSASL is the broker's SASL_SSL listener, which scripts/services.sh
// starts next to the PLAINTEXT one (SCRAM-SHA-512, a certificate of the
// script's own CA; docs/security.md).
type KafkaSASL struct {
	Brokers  []string
	CAFile   string // the PEM CA that signed the broker's certificate
	User     string // a SCRAM-SHA-512 user of the broker
	Password string
}

// The variables `scripts/services.sh env` prints for the listener. No prism
// flag reads them, so they change no command run by a test.
var saslVars = []string{"PRISM_KAFKA_SASL_BROKERS", "PRISM_KAFKA_SASL_CA_FILE", "PRISM_KAFKA_SCRAM_USER", "PRISM_KAFKA_SCRAM_PASSWORD"}

// KafkaSASLListener returns the SASL_SSL listener, after checking that it
// answers and that its CA file exists. Its settings come from the
// PRISM_KAFKA_SASL_* and PRISM_KAFKA_SCRAM_* variables; when
// PRISM_KAFKA_SASL_BROKERS is unset, from `scripts/services.sh env` of this
// checkout (which knows where the script keeps the CA). A listener that
// does not answer fails the test under CI and skips it otherwise.
func KafkaSASLListener(t testing.TB) KafkaSASL {
	t.Helper()
	vals := map[string]string{}
	for _, v := range saslVars {
		vals[v] = os.Getenv(v)
	}
	if vals["PRISM_KAFKA_SASL_BROKERS"] == "" {
		script := filepath.Join(repoRoot(), "scripts", "services.sh")
		out, err := exec.Command(script, "env").Output()
		if err != nil {
			missing(t, "Kafka's SASL_SSL listener", script+" env", err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
			if _, known := vals[k]; ok && known {
				vals[k] = strings.Trim(v, "'")
			}
		}
	}
	s := KafkaSASL{CAFile: vals["PRISM_KAFKA_SASL_CA_FILE"], User: vals["PRISM_KAFKA_SCRAM_USER"], Password: vals["PRISM_KAFKA_SCRAM_PASSWORD"]}
	for _, b := range strings.Split(vals["PRISM_KAFKA_SASL_BROKERS"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.Brokers = append(s.Brokers, b)
		}
	}
	if len(s.Brokers) == 0 {
		missing(t, "Kafka's SASL_SSL listener", "(none: PRISM_KAFKA_SASL_PORT is empty)", os.ErrNotExist)
	}
	if err := dial(s.Brokers[0]); err != nil {
		missing(t, "Kafka's SASL_SSL listener", s.Brokers[0], err)
	}
	if _, err := os.Stat(s.CAFile); err != nil {
		missing(t, "the CA of Kafka's SASL_SSL listener", s.CAFile, err)
	}
	if s.User == "" || s.Password == "" {
		t.Fatalf("Kafka's SASL_SSL listener at %s: no SCRAM user or password (PRISM_KAFKA_SCRAM_USER, PRISM_KAFKA_SCRAM_PASSWORD)", s.Brokers[0])
	}
	return s
}
