package schemas

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/prism-cqrs/prism/internal/testkit"
)

// FuzzDecode feeds arbitrary bytes to every decoder of the invoice codec.
// A decoder must never panic; it either fails with an error that wraps
// exactly one sentinel, or returns a value that re-encodes and decodes to
// the same value. Seeds: the golden files and one record of every command,
// event and result branch.
//
//	go test -fuzz=FuzzDecode -fuzztime=60s ./invoice/schemas
func FuzzDecode(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"command.bin", "event.bin", "result.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add := func(b []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, cmd := range sampleCommands() {
		add(c.EncodeCommand(cmd))
	}
	for _, ev := range sampleEvents() {
		add(c.EncodeEvent(ev))
	}
	for _, r := range sampleResults() {
		add(c.EncodeResult(r))
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
			if err != nil || !reflect.DeepEqual(back, ev) {
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
