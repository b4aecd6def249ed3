package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// TestLogsNamePerRecordPosition: a line about one record names its topic,
// partition and offset, so an operator can find the record. A record the
// processor cannot decode and one the Postgres sink cannot decode (both
// dead-lettered) are logged by processes run with --log-format json: every
// line they write parses as JSON, and the DLQ lines carry the position as
// fields.
func TestLogsNamePerRecordPosition(t *testing.T) {
	brokers := testkit.KafkaBrokers(t)
	pg := testkit.PostgresURL(t)
	ns := testkit.Namespace(t)
	_, cl := testTopics(t, brokers, ns, 1, 0)
	names := topology.NewNames(ns).Aggregate("payments")
	ctx := testkit.Context(t, 3*time.Minute)
	// Three records neither can decode, at offsets 0, 1 and 2 of each topic.
	var recs []*kgo.Record
	for _, topic := range []string{names.CommandsTopic(), names.EventsTopic()} {
		for i, v := range []string{"first", "second", "not an Avro record"} {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("k", i)), Value: []byte(v)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	bin := testkit.PrismBinary(t)
	common := []string{"--namespace", ns, "--brokers", strings.Join(brokers, ","), "--postgres-url", pg, "--log-format", "json"}
	t.Cleanup(func() { dropSchema(t, pg, names.PostgresSchema()) })
	for _, tc := range []struct {
		name, msg, topic string
		args             []string
	}{
		{"process", "command sent to the DLQ", names.CommandsTopic(), []string{"process", "--http", ""}},
		{"sink-postgres", "record sent to the events DLQ", names.EventsTopic(), []string{"sink", "postgres"}},
	} {
		p := startPrismProc(t, bin, tc.name, append(append([]string{}, common...), tc.args...)...)
		var lines []map[string]any
		waitFor(t, tc.name+": three "+tc.msg+" lines", 90*time.Second, func() bool {
			lines = lines[:0]
			b, _ := os.ReadFile(p.log)
			for _, l := range strings.Split(string(b), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == tc.msg {
					lines = append(lines, m)
				}
			}
			return len(lines) >= 3
		})
		p.stop(t)
		b, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		jsonLinesOf(t, tc.name+" --log-format json", string(b))
		seen := map[float64]bool{}
		for _, m := range lines {
			if m["topic"] != tc.topic || m["partition"] != 0.0 {
				t.Errorf("%s: %q line names topic %v partition %v, want %s 0: %v", tc.name, tc.msg, m["topic"], m["partition"], tc.topic, m)
			}
			off, ok := m["offset"].(float64)
			if !ok {
				t.Errorf("%s: %q line has no numeric offset: %v", tc.name, tc.msg, m)
			}
			seen[off] = true
		}
		for _, off := range []float64{0, 1, 2} {
			if !seen[off] {
				t.Errorf("%s: no %q line for offset %v (saw %v)", tc.name, tc.msg, off, seen)
			}
		}
	}
}

// dropSchema drops a Postgres schema (errors logged).
func dropSchema(t *testing.T, pgURL, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		t.Logf("drop schema %s: %v", schema, err)
		return
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		t.Logf("drop schema %s: %v", schema, err)
	}
}
