package producers

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
)

// normalize checks what routing needs and fills the defaults, on a copy:
// the caller's envelope is never modified. A missing issuedAt becomes now
// (UTC); a missing correlationId becomes the command id (the command starts
// its own workflow).
func normalize(cmd *schemas.CommandEnvelope) (*schemas.CommandEnvelope, error) {
	if cmd == nil {
		return nil, errors.New("nil command")
	}
	var errs []error
	if cmd.CommandID == "" {
		errs = append(errs, errors.New("command has no commandId"))
	}
	if cmd.PaymentID == "" {
		errs = append(errs, errors.New("command has no paymentId (the record key)"))
	}
	if cmd.Type == "" {
		errs = append(errs, errors.New("command has no type"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := *cmd
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now().UTC()
	}
	if c.CorrelationID == "" {
		c.CorrelationID = c.CommandID
	}
	return &c, nil
}

// recordCodec builds command records; it caches the prism-schema header
// value of the last fingerprint seen (the codec writes one schema, so the
// hex string is computed once, not per record). Safe for concurrent use.
type recordCodec struct {
	codec Codec
	fpHex atomic.Pointer[fpHeader]
	types map[string][]byte
}

type fpHeader struct {
	fp  uint64
	hex []byte
}

func newRecordCodec(c Codec) *recordCodec {
	rc := &recordCodec{codec: c, types: map[string][]byte{}}
	for _, t := range []string{schemas.TypeCreatePayment, schemas.TypeUpdatePayment, schemas.TypeChangePaymentStatus, schemas.TypeDeletePayment} {
		rc.types[t] = []byte(t)
	}
	return rc
}

// record encodes cmd (already normalized) as a record of topic: key =
// payment id, value = Avro single-object encoding, headers of docs/schemas.md.
// Header values that are the same for many records (type, schema) share
// one read-only byte slice.
func (rc *recordCodec) record(topic string, cmd *schemas.CommandEnvelope) (*kgo.Record, error) {
	value, err := rc.codec.EncodeCommand(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command %s (%s): %w", cmd.CommandID, cmd.Type, err)
	}
	fp, err := rc.codec.Fingerprint(value)
	if err != nil {
		return nil, fmt.Errorf("fingerprint of command %s: %w", cmd.CommandID, err)
	}
	h := rc.fpHex.Load()
	if h == nil || h.fp != fp {
		h = &fpHeader{fp: fp, hex: []byte(schemas.FingerprintHex(fp))}
		rc.fpHex.Store(h)
	}
	typ, ok := rc.types[cmd.Type]
	if !ok {
		typ = []byte(cmd.Type)
	}
	return &kgo.Record{
		Topic: topic,
		Key:   []byte(cmd.PaymentID),
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: records.HeaderType, Value: typ},
			{Key: records.HeaderCommandID, Value: []byte(cmd.CommandID)},
			{Key: records.HeaderCorrelationID, Value: []byte(cmd.CorrelationID)},
			{Key: records.HeaderCausationID, Value: []byte(cmd.CausationID)},
			{Key: records.HeaderSchema, Value: h.hex},
		},
	}, nil
}
