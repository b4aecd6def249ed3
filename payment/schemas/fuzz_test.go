package schemas

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/records"
)

// FuzzDecode feeds arbitrary bytes to every decoder. A decoder must never
// panic; it either fails with an error that wraps exactly one sentinel, or
// returns a value that re-encodes (with the current schema) and decodes to
// the same value. Seeds: testdata/fuzz/FuzzDecode (written by
// TestFuzzSeedCorpus -update) plus the golden files.
//
//	go test -fuzz=FuzzDecode -fuzztime=60s ./schemas
func FuzzDecode(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"golden/command.bin", "golden/event.bin", "golden/result.bin", "command_v1.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := c.DecodeCommand(b)
		checkDecodeResult(t, "command", err, func() error {
			again, err := c.EncodeCommand(cmd)
			if err != nil {
				return err
			}
			back, err := c.DecodeCommand(again)
			if err != nil || !reflect.DeepEqual(back, cmd) {
				return fmt.Errorf("re-encoded command decodes to %+v, %v; want %+v", back, err, cmd)
			}
			return nil
		})
		ev, err := c.DecodeEvent(b)
		checkDecodeResult(t, "event", err, func() error {
			again, err := c.EncodeEvent(ev)
			if err != nil {
				return err
			}
			back, err := c.DecodeEvent(again)
			if err != nil || !reflect.DeepEqual(normalizeEvent(back), normalizeEvent(ev)) {
				return fmt.Errorf("re-encoded event decodes to %+v, %v; want %+v", back, err, ev)
			}
			return nil
		})
		res, err := c.DecodeResult(b)
		checkDecodeResult(t, "result", err, func() error {
			again, err := c.EncodeResult(res)
			if err != nil {
				return err
			}
			back, err := c.DecodeResult(again)
			if err != nil || !reflect.DeepEqual(back, res) {
				return fmt.Errorf("re-encoded result decodes to %+v, %v; want %+v", back, err, res)
			}
			return nil
		})
		if _, err := c.Fingerprint(b); err != nil && !errors.Is(err, records.ErrBadMagic) && !errors.Is(err, records.ErrTruncated) {
			t.Fatalf("Fingerprint error wraps no header sentinel: %v", err)
		}
	})
}

func checkDecodeResult(t *testing.T, kind string, err error, reencode func() error) {
	t.Helper()
	if err == nil {
		if err := reencode(); err != nil {
			t.Fatalf("decoded %s does not survive a round trip: %v", kind, err)
		}
		return
	}
	testkit.CheckDecodeError(t, "decode "+kind, err, testkit.DecodeSentinels...)
}

// fuzzSeeds are the interesting inputs of the checked-in seed corpus: each
// branch, each error class, and the v1 record.
func fuzzSeeds(t *testing.T, c *Codec) map[string][]byte {
	seeds := map[string][]byte{}
	for name, cmd := range sampleCommands() {
		b, err := c.EncodeCommand(cmd)
		if err != nil {
			t.Fatal(err)
		}
		seeds["command-"+name] = b
	}
	for name, ev := range sampleEvents() {
		b, err := c.EncodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		seeds["event-"+name] = b
	}
	for name, r := range sampleResults() {
		b, err := c.EncodeResult(r)
		if err != nil {
			t.Fatal(err)
		}
		seeds["result-"+name] = b
	}
	cmd := seeds["command-create"]
	seeds["empty"] = []byte{}
	seeds["bad-magic"] = []byte(`{"type":"CreatePayment"}`)
	seeds["truncated-header"] = cmd[:5]
	seeds["truncated-body"] = cmd[:len(cmd)-2]
	seeds["unknown-fingerprint"] = append(refHeader(1), cmd[10:]...)
	seeds["legacy-fingerprint"] = append(refHeader(legacyCommandFingerprint), cmd[10:]...)
	w := commandHead(TypeDeletePayment)
	w.long(9)
	seeds["bad-union"] = append(refHeader(c.CommandFingerprint()), w.b...)
	return seeds
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzDecode in step with the
// codec: every seed file must hold exactly the bytes fuzzSeeds builds now
// (a schema change that alters them fails here). -update rewrites them.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range fuzzSeeds(t, newTestCodec(t)) {
		file := filepath.Join(dir, "seed-"+filepath.Base(sanitize(name)))
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if *update {
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("seed %s: %v (run go test ./schemas -run TestFuzzSeedCorpus -update)", name, err)
			continue
		}
		if string(got) != content {
			t.Errorf("seed %s in %s is stale (run go test ./schemas -run TestFuzzSeedCorpus -update)", name, file)
		}
	}
}

func sanitize(s string) string {
	out := []rune(s)
	for i, r := range out {
		if r == '/' {
			out[i] = '-'
		}
	}
	return string(out)
}

// FuzzCommandDecoderMatchesHamba holds the processor's hand-written command
// decoder (decodeCurrentCommand, the path DecodeCommand takes for the
// current schema) to hamba/avro's on arbitrary bytes: the same command, or
// the same error. Seeds: the sample commands of every branch.
//
//	go test -fuzz=FuzzCommandDecoderMatchesHamba -fuzztime=60s ./payment/schemas
func FuzzCommandDecoderMatchesHamba(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	for _, cmd := range sampleCommands() {
		b, err := c.EncodeCommand(cmd)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gerr := c.DecodeCommand(b)
		want, werr := c.decodeCommandHamba(b)
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Fatalf("%x: error %v, hamba %v", b, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%x:\n got %+v\nwant %+v", b, got, want)
		}
	})
}
