package producers

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/schemas"
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

// commandRecord encodes cmd (already normalized) as a record of topic:
// key = payment id, value = Avro single-object encoding, headers of DESIGN §2.
func commandRecord(codec Codec, topic string, cmd *schemas.CommandEnvelope) (*kgo.Record, error) {
	value, err := codec.EncodeCommand(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command %s (%s): %w", cmd.CommandID, cmd.Type, err)
	}
	fp, err := codec.Fingerprint(value)
	if err != nil {
		return nil, fmt.Errorf("fingerprint of command %s: %w", cmd.CommandID, err)
	}
	return &kgo.Record{
		Topic: topic,
		Key:   []byte(cmd.PaymentID),
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderType, Value: []byte(cmd.Type)},
			{Key: schemas.HeaderCommandID, Value: []byte(cmd.CommandID)},
			{Key: schemas.HeaderCorrelationID, Value: []byte(cmd.CorrelationID)},
			{Key: schemas.HeaderCausationID, Value: []byte(cmd.CausationID)},
			{Key: schemas.HeaderSchema, Value: []byte(schemas.FingerprintHex(fp))},
		},
	}, nil
}
