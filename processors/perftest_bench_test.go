package processors_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// perfTest runs Kafka's own producer perf test (org.apache.kafka.tools.ProducerPerformance
// from the kafka-tools jar), the baseline issue 4 names, beside the
// franz-go baseline. It differs from that one on purpose only in what the
// tool imposes: the JVM client, and one random payload of the given size
// repeated in every record, without key or headers.
type perfTest struct {
	java string // path of the java binary
	libs string // classpath: the jars' directory + "/*"
}

// newPerfTest finds java and the Kafka jars (PRISM_KAFKA_LIBS, else
// <repo>/.cache/kafka-libs). It returns why not when either is missing.
func newPerfTest() (*perfTest, string) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, "java not on PATH"
	}
	dir := os.Getenv("PRISM_KAFKA_LIBS")
	if dir == "" {
		dir = filepath.Join("..", ".cache", "kafka-libs")
	}
	if jars, _ := filepath.Glob(filepath.Join(dir, "kafka-tools-*.jar")); len(jars) == 0 {
		return nil, fmt.Sprintf("no kafka-tools jar in %s (set PRISM_KAFKA_LIBS)", dir)
	}
	return &perfTest{java: java, libs: filepath.Join(dir, "*")}, ""
}

// perfTestSummary matches ProducerPerformance's last line:
// "500000 records sent, 258000.1 records/sec (118.10 MB/sec), ...".
var perfTestSummary = regexp.MustCompile(`(?m)^(\d+) records sent, ([0-9.]+) records/sec`)

// rate produces n records of size bytes to topic (which must exist: the
// tool waits for its metadata otherwise) with the command producer's
// settings (acks=all, idempotent, linger 5 ms, 1 MiB batches) and the
// given compression type, and returns the tool's records/sec. An error
// when the tool fails, times out with ctx, or prints no summary.
func (p *perfTest) rate(ctx context.Context, brokers []string, topic string, n, size int, compression string) (float64, error) {
	cmd := exec.CommandContext(ctx, p.java, "-cp", p.libs,
		"org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.Itoa(n), "--record-size", strconv.Itoa(size),
		"--throughput", "-1",
		"--producer-props", "bootstrap.servers="+strings.Join(brokers, ","), "acks=all",
		"enable.idempotence=true", "compression.type="+compression, "linger.ms=5",
		"batch.size=1048576")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("ProducerPerformance: %w: %s", err, tail(errOut.String(), 500))
	}
	m := lastSummary(out.String())
	if m == nil {
		return 0, fmt.Errorf("ProducerPerformance printed no summary: %s", tail(out.String(), 500))
	}
	if sent, _ := strconv.Atoi(m[1]); sent != n {
		return 0, fmt.Errorf("ProducerPerformance sent %d records, want %d", sent, n)
	}
	return strconv.ParseFloat(m[2], 64)
}

// lastSummary is the submatches of the last summary-shaped line of out:
// the tool prints one such line every 5 s while it runs, then the total.
func lastSummary(out string) []string {
	all := perfTestSummary.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

// meanRecordSize is the mean bytes of key, value and headers (names and
// values) of recs: the --record-size of the perf test, whose records
// carry the whole size in their value.
func meanRecordSize(recs []*kgo.Record) int {
	if len(recs) == 0 {
		return 0
	}
	var total int
	for _, r := range recs {
		total += len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			total += len(h.Key) + len(h.Value)
		}
	}
	return (total + len(recs)/2) / len(recs)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// perfTestCompression is the perf test's compression.type matching the
// engine's (benchCompression).
func perfTestCompression() string {
	if benchCompression() == "uncompressed" {
		return "none"
	}
	return "snappy"
}

func TestPerfTestSummary(t *testing.T) {
	out := "some log line\n" +
		"1230000 records sent, 245900.2 records/sec (110.00 MB/sec), 20.1 ms avg latency, 300.0 ms max latency.\n" +
		"1500000 records sent, 258123.4 records/sec (118.10 MB/sec), 12.31 ms avg latency, 316.00 ms max latency, 11 ms 50th.\n"
	m := lastSummary(out)
	if m == nil || m[1] != "1500000" || m[2] != "258123.4" {
		t.Fatalf("summary parsed as %q, want the last line's 1500000 and 258123.4", m)
	}
	if m := lastSummary("no summary here\n"); m != nil {
		t.Fatalf("parsed %q from no summary", m)
	}
	recs := []*kgo.Record{
		{Key: []byte("ab"), Value: []byte("cdef"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("xyz")}}}, // 10
		{Key: []byte("a"), Value: []byte("b")}, // 2
	}
	if got := meanRecordSize(recs); got != 6 {
		t.Errorf("meanRecordSize = %d, want 6", got)
	}
}
