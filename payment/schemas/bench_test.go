package schemas

import (
	"encoding/json"
	"testing"
)

// Avro (this codec) and encoding/json on the same structs, side by side so
// one run gives the ratio:
//
//	go test -run '^$' -bench . -benchmem ./schemas

func BenchmarkEncodeCommand(b *testing.B) {
	c := newTestCodec(b)
	cmd := sampleCommand()
	cmd.ExpectedVersion = ptr(int64(3))
	b.Run("avro", func(b *testing.B) {
		benchEncode(b, func() ([]byte, error) { return c.EncodeCommand(cmd) })
	})
	b.Run("json", func(b *testing.B) {
		benchEncode(b, func() ([]byte, error) { return json.Marshal(cmd) })
	})
}

func BenchmarkDecodeCommand(b *testing.B) {
	c := newTestCodec(b)
	cmd := sampleCommand()
	cmd.ExpectedVersion = ptr(int64(3))
	b.Run("avro", func(b *testing.B) {
		data, err := c.EncodeCommand(cmd)
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, data, func(d []byte) error { _, err := c.DecodeCommand(d); return err })
	})
	// A command written by an earlier build (legacy fingerprint) takes the
	// same hand-written path.
	b.Run("avro-legacy-fingerprint", func(b *testing.B) {
		benchDecode(b, mustRead(b, "testdata/legacy/command.bin"), func(d []byte) error { _, err := c.DecodeCommand(d); return err })
	})
	b.Run("json", func(b *testing.B) {
		data, err := json.Marshal(cmd)
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, data, func(d []byte) error { var v CommandEnvelope; return json.Unmarshal(d, &v) })
	})
}

func BenchmarkEncodeEvent(b *testing.B) {
	c := newTestCodec(b)
	ev := sampleEvent()
	b.Run("avro", func(b *testing.B) {
		benchEncode(b, func() ([]byte, error) { return c.EncodeEvent(ev) })
	})
	b.Run("json", func(b *testing.B) {
		benchEncode(b, func() ([]byte, error) { return json.Marshal(ev) })
	})
}

func BenchmarkDecodeEvent(b *testing.B) {
	c := newTestCodec(b)
	ev := sampleEvent()
	b.Run("avro", func(b *testing.B) {
		data, err := c.EncodeEvent(ev)
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, data, func(d []byte) error { _, err := c.DecodeEvent(d); return err })
	})
	b.Run("json", func(b *testing.B) {
		data, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, data, func(d []byte) error { var v EventEnvelope; return json.Unmarshal(d, &v) })
	})
}

// BenchmarkDecodeCommandV1 reads the v1 fixture: the resolution path.
func BenchmarkDecodeCommandV1(b *testing.B) {
	c := newTestCodec(b)
	data := mustRead(b, v1Fixture)
	benchDecode(b, data, func(d []byte) error { _, err := c.DecodeCommand(d); return err })
}

func benchEncode(b *testing.B, encode func() ([]byte, error)) {
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := encode()
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n), "bytes/record")
}

func benchDecode(b *testing.B, data []byte, decode func([]byte) error) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
