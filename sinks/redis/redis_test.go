package redis

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/topology"
)

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{TTL: 10 * time.Millisecond}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"URL", "namespace", "TTL", "RecentSize", "ChunkEvents"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := DefaultConfig("redis://127.0.0.1:6379/0", topology.NewNames("x").Aggregate("payments")).Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	cfg := DefaultConfig("redis://127.0.0.1:6379/0", topology.NewNames("x").Aggregate("payments"))
	cfg.TTL = 0
	if err := cfg.Validate(); err != nil {
		t.Fatalf("TTL 0 (no expiry) refused: %v", err)
	}
}

func TestKeysUseTheNamespacePrefix(t *testing.T) {
	k := NewKeys(topology.NewNames("ns1").Aggregate("payments"), payment.RedisCache{}.CacheLayout())
	got := []string{k.Doc("p"), k.Version("p"), k.Recent("o"), k.CacheVersion("o"), k.InvalidateChannel(), k.Offset("ns1.payments.events", 7)}
	want := []string{"ns1:payment:p", "ns1:payment:p:v", "ns1:org:o:recent", "ns1:org:o:cachever", "ns1:invalidate", "ns1:sink:redis:offset:ns1.payments.events:7"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("key %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestKeysOfAVersion: version 2 puts documents, recent indexes and offsets
// under <ns>:v2:; change counters, the channel and the pointer stay.
func TestKeysOfAVersion(t *testing.T) {
	k := NewKeys(topology.NewNames("ns1").Aggregate("payments"), payment.RedisCache{}.CacheLayout())
	for _, v := range []int{0, 1} {
		if k.At(v) != k {
			t.Errorf("At(%d) differs from the keys of NewKeys", v)
		}
	}
	k2 := k.At(2)
	got := []string{k2.Doc("p"), k2.Recent("o"), k2.CacheVersion("o"), k2.InvalidateChannel(), k2.Offset("t", 7), k2.Pointer(), k2.Switching()}
	want := []string{"ns1:v2:payment:p", "ns1:v2:org:o:recent", "ns1:org:o:cachever", "ns1:invalidate", "ns1:v2:sink:redis:offset:t:7",
		"ns1:sink:redis:version:payment", "ns1:sink:redis:switching:payment"}
	if !slices.Equal(got, want) {
		t.Errorf("keys of version 2 = %q\nwant %q", got, want)
	}
	if k2.At(1) != k || k2.VersionNumber() != 2 {
		t.Errorf("At(1) of version 2's keys differs from version 1's, or VersionNumber %d", k2.VersionNumber())
	}
}

func testEvent(p int32, off int64, id string, v int64, state bool) sinks.Event {
	env := &schemas.EventEnvelope{EventID: "e", Type: schemas.TypePaymentCreated, AggregateID: id, Version: v, OrganizationID: "o"}
	if state {
		env.State = &schemas.Payment{ID: id, OrganizationID: "o", AmountMinor: 1999, Currency: "EUR", Status: schemas.StatusPending,
			CreatedAt: time.UnixMilli(1700000000123), Version: v}
	} else {
		env.Type = schemas.TypePaymentDeleted
	}
	return sinks.Event{Partition: p, Offset: off, Key: id, Envelope: env.Record()}
}

func TestBuildChunksLayout(t *testing.T) {
	cfg := DefaultConfig("redis://127.0.0.1:6379/0", topology.NewNames("n").Aggregate("payments"))
	cfg.ChunkEvents = 2
	tg, err := NewTarget(cfg, payment.RedisCache{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	noState := testEvent(1, 8, "c", 2, true)
	noState.Envelope.State = nil
	noState.Envelope.Type = schemas.TypePaymentUpdated
	batch := []sinks.Event{
		testEvent(0, 5, "a", 1, true),
		testEvent(1, 7, "b", 3, false),
		noState,
		{Partition: 1, Offset: 9, Key: "d"}, // tombstone
	}
	var chunks []chunk
	rejected := tg.buildChunks("top", batch, tg.Keys(), true, func(c chunk) { chunks = append(chunks, c) })
	if len(rejected) != 1 || rejected[0].Event.Offset != 8 || !strings.Contains(rejected[0].Reason, "no state") {
		t.Fatalf("rejected = %+v, want the event without state", rejected)
	}
	if len(chunks) != 2 {
		t.Fatalf("%d chunks, want 2", len(chunks))
	}
	c := chunks[0]
	// Header: ttl, recent size, channel, the layout's names (organization
	// key prefix, recent and cachever suffixes, organization field, message
	// head and id part), partitions, organizations, expected offsets,
	// organizations to trim (none: not the last chunk).
	if got := fmt.Sprint(c.args[3:9]); got != `[n:org: :recent :cachever organizationId {"organizationId": ,"paymentId":]` {
		t.Fatalf("chunk 0 layout names %s", got)
	}
	if c.args[0] != int64(86400) || c.args[1] != 1000 || c.args[2] != "n:invalidate" || c.args[9] != 2 || c.args[10] != 1 || c.args[11] != "00" || c.args[12] != "0" {
		t.Fatalf("chunk 0 header %v", c.args[:argHeader])
	}
	if len(c.args) != argHeader+2*argStride || len(c.keys) != 2+2+2*keyStride+2 {
		t.Fatalf("chunk 0: %d args, %d keys", len(c.args), len(c.keys))
	}
	wantKeys := "[n:sink:redis:offset:top:0 n:sink:redis:offset:top:1 n:org:o:recent n:org:o:cachever n:payment:a n:payment:b n:sink:redis:version:payment n:sink:redis:switching:payment]"
	if fmt.Sprint(c.keys) != wantKeys {
		t.Fatalf("keys %v\nwant %s", c.keys, wantKeys)
	}
	up := c.args[argHeader : argHeader+argStride]
	var doc map[string]any
	var msgs []map[string]any
	if err := json.Unmarshal(up[1].([]byte), &doc); err != nil {
		t.Fatal(err)
	}
	// Messages: one JSON array of the upsert's and the delete's, and where
	// each ends (1-based) for the script to cut them out.
	joined := string(c.args[13].([]byte))
	if err := json.Unmarshal([]byte(joined), &msgs); err != nil {
		t.Fatalf("messages %q: %v", joined, err)
	}
	first := `{"organizationId":"o","paymentId":"a","version":1}`
	second := `{"organizationId":"o","paymentId":"b","version":3}`
	if joined != "["+first+","+second+"]" || c.args[14] != fmt.Sprintf("%d,%d", 1+len(first), 2+len(first)+len(second)) {
		t.Fatalf("messages %s ends %v", joined, c.args[14])
	}
	// metas: kind, partition index, next offset, version, organization
	// index, score; the highest next offset of each partition.
	if got := decodeMetas(t, c.args[15]); got != "[{117 1 6 1 1 1.700000000123e+12} {100 2 8 3 1 0}]" || c.args[16] != "6,8" {
		t.Fatalf("metas %s, last next offsets %v", got, c.args[16])
	}
	if up[0] != "a" || doc["amount"] != "19.99" {
		t.Fatalf("upsert args %v doc %v", up, doc)
	}
	if !strings.HasPrefix(string(up[1].([]byte)), `{"version":1,`) {
		t.Fatalf("document %s does not start with its version (the script reads it there)", up[1])
	}
	if len(msgs) != 2 || fmt.Sprint(msgs[0]) != "map[organizationId:o paymentId:a version:1]" {
		t.Fatalf("invalidation messages %v", msgs)
	}
	del := c.args[argHeader+argStride:]
	if del[0] != "b" {
		t.Fatalf("delete args %v", del)
	}
	c = chunks[1]
	// The last chunk trims the recent index of every organization of the
	// batch: "o" has no event in it, so it is appended to its list.
	if c.args[9] != 1 || c.args[10] != 1 || c.args[12] != "1" || string(c.args[13].([]byte)) != "[]" || c.args[14] != "" || fmt.Sprint(c.keys) != "[n:sink:redis:offset:top:1 n:org:o:recent n:org:o:cachever n:payment:c n:payment:d n:sink:redis:version:payment n:sink:redis:switching:payment]" {
		t.Fatalf("chunk 1 header %v keys %v", c.args[:argHeader], c.keys)
	}
	skip, tomb := c.args[argHeader:argHeader+argStride], c.args[argHeader+argStride:]
	if got := decodeMetas(t, c.args[15]); got != "[{115 1 9 0 0 0} {116 1 10 0 0 0}]" || c.args[16] != "10" || skip[0] != "c" || tomb[0] != "d" {
		t.Fatalf("chunk 1 args %v metas %s", c.args[argHeader:], got)
	}
}

// decodeMetas reads the script's metas argument as packed little-endian
// records (what struct.unpack('<BHddHd') reads) and prints them.
func decodeMetas(t *testing.T, arg any) string {
	t.Helper()
	type rec struct {
		Kind          uint8
		Partition     uint16
		Next, Version float64
		Org           uint16
		Score         float64
	}
	b, ok := arg.([]byte)
	if !ok {
		t.Fatalf("metas argument is %T, want []byte", arg)
	}
	var out []rec
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		var m rec
		if err := binary.Read(r, binary.LittleEndian, &m); err != nil {
			t.Fatalf("metas %x: %v", b, err)
		}
		out = append(out, m)
	}
	return fmt.Sprint(out)
}
