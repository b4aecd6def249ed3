package payment

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/processors"
)

// fullState returns a pending payment whose dedup window is full.
func fullState(b *testing.B, a *Aggregate, codec *schemas.Codec) processors.State {
	var st processors.State
	for i := 0; i < 17; i++ {
		var cmd *schemas.CommandEnvelope
		if i == 0 {
			cmd = createCmd("c-0", 1000, "EUR", "cloud credits for november")
		} else {
			cmd = updateCmd(fmt.Sprint("u-", i), nil, nil, str(fmt.Sprint("d", i)))
		}
		c, err := a.DecodeCommand(commandRecord(b, codec, cmd))
		if err != nil {
			b.Fatal(err)
		}
		st = a.Handle(st, c, now).NewState
	}
	return st
}

// BenchmarkHandleUpdate is one accepted UpdatePayment on a payment with a
// full dedup window: decide, apply, encode the event and the result.
func BenchmarkHandleUpdate(b *testing.B) {
	a, codec := newTestAggregate(b)
	st := fullState(b, a, codec)
	c, err := a.DecodeCommand(commandRecord(b, codec, updateCmd("u-new", i64(2500), str("EUR"), nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := a.Handle(st, c, now); out.Label != LabelAccepted {
			b.Fatal(out.Label)
		}
	}
}

// BenchmarkHandleDuplicate is a retried command answered from the dedup
// memory.
func BenchmarkHandleDuplicate(b *testing.B) {
	a, codec := newTestAggregate(b)
	st := fullState(b, a, codec)
	c, err := a.DecodeCommand(commandRecord(b, codec, updateCmd("u-9", nil, nil, str("d9"))))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := a.Handle(st, c, now); out.Label != LabelDuplicate {
			b.Fatal(out.Label)
		}
	}
}

// BenchmarkDecodeCommand decodes a small CreatePayment record.
func BenchmarkDecodeCommand(b *testing.B) {
	a, codec := newTestAggregate(b)
	rec := commandRecord(b, codec, createCmd("c-1", 1000, "EUR", "cloud credits"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.DecodeCommand(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeState restores one payment with a full dedup window.
func BenchmarkDecodeState(b *testing.B) {
	a, codec := newTestAggregate(b)
	v := encodedState(b, codec, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.DecodeState(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleLifecycle is the workload of the processor benchmark
// (processors.BenchmarkProcessorThroughput), per command: a payment is
// created, authorized, captured and refunded (four accepted commands, each
// decoded, decided, encoded as event and result). It reports ns, bytes and
// allocations per command.
func BenchmarkHandleLifecycle(b *testing.B) {
	a, codec := newTestAggregate(b)
	var recs [4]*kgo.Record
	for i, c := range []*schemas.CommandEnvelope{
		createCmd("c-create", 12_500, "EUR", "cloud credits for november, order 123456"),
		statusCmd("c-authorize", schemas.StatusAuthorized),
		statusCmd("c-capture", schemas.StatusCaptured),
		statusCmd("c-refund", schemas.StatusRefunded),
	} {
		recs[i] = commandRecord(b, codec, c)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		var st processors.State
		for _, r := range recs {
			c, err := a.DecodeCommand(r)
			if err != nil {
				b.Fatal(err)
			}
			out := a.Handle(st, c, now)
			if out.Label != LabelAccepted {
				b.Fatal(out.Label)
			}
			st = out.NewState
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(4*b.N), "ns/cmd")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(4*b.N), "cpu-ns/cmd")
}

// processCPU is the user+system CPU time of this process so far (GC
// included): on a shared machine it moves less with the load than the
// wall-clock ns/op.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
