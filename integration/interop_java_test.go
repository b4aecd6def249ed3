package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
)

// The interoperability test: a client written in the ecosystem's home
// language, against the Apache Avro specification and the Java reference
// libraries only (interop/java: Apache Avro 1.12.0 and kafka-clients 4.1.1
// from Maven Central, built by interop/java/run.sh), reads what Prism writes
// and writes what Prism reads, on the real broker.

// javaClient returns the path of interop/java/run.sh. Without a JDK or
// Maven the test fails under CI and skips otherwise (as for a missing
// service, internal/testkit).
func javaClient(t *testing.T) (script, root string) {
	t.Helper()
	for _, tool := range []string{"java", "javac", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			testkit.Unavailable(t, "tool", fmt.Sprintf("%s is not on PATH (%v): the Java interoperability test needs a JDK 17+ and Maven", tool, err))
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "interop", "java", "run.sh"), root
}

// runJava runs the Java client with args from the repository root and
// returns its stdout, one JSON object per line; a non-zero exit (a record
// it could not decode, a send that failed) fails the test with its stderr.
func runJava(t *testing.T, ctx context.Context, script, root string, args ...string) []map[string]any {
	t.Helper()
	start := time.Now()
	stdout, stderr, err := execJava(ctx, script, root, args...)
	if err != nil {
		t.Fatalf("java %s: %v\n%s", args[0], err, tailString(stderr, 40))
	}
	t.Logf("java %s in %s: %s", args[0], time.Since(start).Round(time.Millisecond), strings.TrimSpace(tailString(stderr, 3)))
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("java %s printed a line that is not JSON (%v): %s", args[0], err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func execJava(ctx context.Context, script, root string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Dir = root
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// avroView is the value as Avro's GenericData.toString prints it (a JSON
// object per record, fields by their Avro names, timestamp-millis as the
// long, an enum as its symbol, null for an absent optional), built from the
// Go struct's avro tags; it shares nothing with the codec.
func avroView(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return avroView(v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			return t.UnixMilli()
		}
		m := map[string]any{}
		for i := range v.NumField() {
			tag := v.Type().Field(i).Tag.Get("avro")
			if tag != "" && tag != "-" {
				m[tag] = avroView(v.Field(i))
			}
		}
		return m
	case reflect.Slice:
		out := []any{}
		for i := range v.Len() {
			out = append(out, avroView(v.Index(i)))
		}
		return out
	case reflect.String:
		return v.String()
	case reflect.Int64:
		return v.Int()
	case reflect.Bool:
		return v.Bool()
	default:
		panic("avroView: unexpected kind " + v.Kind().String())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJavaInterop(t *testing.T) {
	script, root := javaClient(t)
	ctx := context.Background()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}

	// 1. Apache Avro computes the fingerprints Prism writes, and those of
	// the checked-in copy payment/schemas/testdata/avro_java_fingerprints.jsonl.
	fps := runJava(t, ctx, script, root, "fingerprints", "payment/schemas/avro")
	checkedIn, err := os.ReadFile(filepath.Join(root, "payment", "schemas", "testdata", "avro_java_fingerprints.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var live strings.Builder
	for _, f := range fps {
		live.WriteString(mustJSON(t, map[string]any{"file": f["file"], "record": f["record"], "fingerprint": f["fingerprint"], "canonical": f["canonical"]}) + "\n")
	}
	var want strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(checkedIn)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		want.WriteString(mustJSON(t, m) + "\n")
	}
	if live.String() != want.String() {
		t.Errorf("Apache Avro's fingerprints differ from payment/schemas/testdata/avro_java_fingerprints.jsonl (regenerate it, docs/schemas.md):\n%s\nchecked in:\n%s", live.String(), want.String())
	}
	javaFP := map[string]string{}
	for _, f := range fps {
		javaFP["avro/"+f["file"].(string)] = f["fingerprint"].(string)
	}
	for _, info := range codec.Schemas() {
		if got := schemas.FingerprintHex(info.Fingerprint); got != javaFP[info.File] {
			t.Errorf("%s: Prism's fingerprint %s, Apache Avro's %q", info.File, got, javaFP[info.File])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// 2. Commands from Prism's Go producer path and from the Java client
	// (Avro's single-object encoder, Java's default partitioner), before
	// the processor starts.
	env := newProcEnv(t, 4)
	goCmds := generateCommands(genConfig{N: procSize(3000, 600), Seed: 15, Prefix: env.ns})
	if err := env.produce(ctx, env.encode(goCmds)); err != nil {
		t.Fatal(err)
	}
	javaPrefix := env.ns + "-java"
	nPayments := procSize(100, 25)
	sent := runJava(t, ctx, script, root, "produce", "--brokers", strings.Join(env.brokers, ","),
		"--topic", env.names.CommandsTopic(), "--schemas", "payment/schemas/avro",
		"--payments", strconv.Itoa(nPayments), "--prefix", javaPrefix)
	if len(sent) != 2*nPayments {
		t.Fatalf("java sent %d commands, want %d", len(sent), 2*nPayments)
	}
	for _, s := range sent {
		id, part, hash := s["paymentId"].(string), s["partition"].(json.Number).String(), s["murmur2Partition"].(json.Number).String()
		if part != hash {
			t.Errorf("java put %s in partition %s, murmur2 gives %s", id, part, hash)
		}
		if s["fingerprint"] != schemas.FingerprintHex(codec.CommandFingerprint()) {
			t.Errorf("java wrote command fingerprint %v, Prism writes %s", s["fingerprint"], schemas.FingerprintHex(codec.CommandFingerprint()))
		}
		p, _ := strconv.Atoi(part)
		env.partOf[id] = int32(p)
	}

	// Prism's codec reads the Java commands as Java says it sent them.
	cmdRecs := env.readTopic(env.names.CommandsTopic(), len(goCmds)+len(sent), time.Minute)
	sort.Slice(cmdRecs, func(i, j int) bool { return cmdRecs[i].Offset < cmdRecs[j].Offset })
	sentByID := map[string]map[string]any{}
	for _, s := range sent {
		sentByID[s["commandId"].(string)] = s
	}
	var javaCmds []*schemas.CommandEnvelope
	for _, r := range cmdRecs {
		if !strings.HasPrefix(string(r.Key), javaPrefix+"-") {
			continue
		}
		c, err := codec.DecodeCommand(r.Value)
		if err != nil {
			t.Fatalf("Prism cannot decode the Java command at %d/%d: %v", r.Partition, r.Offset, err)
		}
		s := sentByID[c.CommandID]
		if s == nil || s["type"] != c.Type || s["paymentId"] != c.PaymentID || c.PaymentID != string(r.Key) {
			t.Fatalf("Java command at %d/%d decodes to %+v; java sent %v", r.Partition, r.Offset, c, s)
		}
		javaCmds = append(javaCmds, c)
	}
	if len(javaCmds) != len(sent) {
		t.Fatalf("%d Java commands on the topic, java sent %d", len(javaCmds), len(sent))
	}

	// 3. prism process answers all of them; the output is what the
	// reference model says, every event in its command's partition.
	x := expectFor(append(append([]*schemas.CommandEnvelope{}, goCmds...), javaCmds...))
	p := env.startProcessor("a")
	results := env.readTopic(env.names.ResultsTopic(), x.nResults, 3*time.Minute)
	events := env.readTopic(env.names.EventsTopic(), x.nEvents, time.Minute)
	env.checkOutput(x, results, events)
	for _, c := range javaCmds {
		if r := x.results[c.CommandID]; len(r) != 1 || !r[0].Accepted {
			t.Errorf("Java command %s %s: the reference model gives %+v, want accepted", c.CommandID, c.Type, r)
		}
	}
	p.stop(t)

	// The Java reader fails on a record it cannot decode: an event with the
	// fingerprint earlier Prism builds wrote (payment/schemas/testdata/legacy), which
	// Prism still reads but a spec-following reader does not know.
	legacy, err := os.ReadFile(filepath.Join(root, "payment", "schemas", "testdata", "legacy", "event.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.DecodeEvent(legacy); err != nil {
		t.Fatalf("Prism no longer reads its legacy event: %v", err)
	}
	dlq := env.names.EventsDLQTopic() // a topic no one else writes in this test
	if err := env.cl.ProduceSync(ctx, &kgo.Record{Topic: dlq, Key: []byte("p-1"), Value: legacy}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := execJava(ctx, script, root, "consume", "--brokers", strings.Join(env.brokers, ","),
		"--topic", dlq, "--schemas", "payment/schemas/avro", "--record", "EventEnvelope", "--min", "1", "--timeout-ms", "60000")
	if err == nil || !strings.Contains(stderr, "cannot decode") {
		t.Fatalf("java consume of a legacy-fingerprint event: %v, stderr %q; want a failure naming the record", err, stderr)
	}

	// 4. The Java client reads both topics with read_committed and decodes
	// every record with Avro's single-object decoder: the same records,
	// the same values, as Prism's codec reads them.
	checkJavaRead(t, ctx, script, root, env, env.names.EventsTopic(), "EventEnvelope", events, codec.EventFingerprint(),
		func(b []byte) (any, error) {
			ev, err := codec.DecodeEvent(b)
			if err != nil {
				return nil, err
			}
			branch, _, err := ev.Payload.Branch()
			if err != nil {
				return nil, err
			}
			m := avroView(reflect.ValueOf(ev)).(map[string]any)
			m["payload"] = avroView(reflect.ValueOf(branch))
			return m, nil
		})
	checkJavaRead(t, ctx, script, root, env, env.names.ResultsTopic(), "CommandResult", results, codec.ResultFingerprint(),
		func(b []byte) (any, error) {
			r, err := codec.DecodeResult(b)
			if err != nil {
				return nil, err
			}
			return avroView(reflect.ValueOf(r)), nil
		})
}

// checkJavaRead runs the Java consumer over topic and compares every record
// it printed with recs as Go read them: same partitions and offsets, keys,
// header fingerprint, and decoded value.
func checkJavaRead(t *testing.T, ctx context.Context, script, root string, env *procEnv, topic, record string,
	recs []*kgo.Record, fp uint64, view func([]byte) (any, error)) {
	t.Helper()
	got := runJava(t, ctx, script, root, "consume", "--brokers", strings.Join(env.brokers, ","),
		"--topic", topic, "--schemas", "payment/schemas/avro", "--record", record,
		"--min", strconv.Itoa(len(recs)), "--timeout-ms", "120000")
	byPos := map[string]map[string]any{}
	for _, g := range got {
		byPos[g["partition"].(json.Number).String()+"/"+g["offset"].(json.Number).String()] = g
	}
	if len(got) != len(recs) {
		t.Errorf("%s: java read %d records, Go %d", topic, len(got), len(recs))
	}
	var diffs []string
	for _, r := range recs {
		pos := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
		j := byPos[pos]
		if j == nil {
			diffs = append(diffs, pos+": java did not read it")
			continue
		}
		if h := j["murmur2Partition"]; h == nil || h.(json.Number).String() != strconv.Itoa(int(r.Partition)) {
			diffs = append(diffs, fmt.Sprintf("%s: key %q is in partition %d, the Java partitioner picks %v", pos, r.Key, r.Partition, h))
		}
		if j["key"] != string(r.Key) {
			diffs = append(diffs, fmt.Sprintf("%s: java key %v, Go %q", pos, j["key"], r.Key))
		}
		if r.Value == nil {
			if j["value"] != nil {
				diffs = append(diffs, pos+": a tombstone for Go, a value for java")
			}
			continue
		}
		if j["fingerprint"] != schemas.FingerprintHex(fp) {
			diffs = append(diffs, fmt.Sprintf("%s: fingerprint %v, want %s", pos, j["fingerprint"], schemas.FingerprintHex(fp)))
		}
		want, err := view(r.Value)
		if err != nil {
			t.Fatalf("%s %s: Prism cannot decode its own record: %v", topic, pos, err)
		}
		if g, w := mustJSON(t, j["value"]), mustJSON(t, want); g != w {
			diffs = append(diffs, fmt.Sprintf("%s: java decodes\n  %s\nPrism\n  %s", pos, g, w))
		}
		if len(diffs) > 10 {
			break
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%s: the Java reader and Prism disagree:\n%s", topic, strings.Join(diffs, "\n"))
	}
}
