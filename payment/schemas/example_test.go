package schemas_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
)

func ExampleCodec() {
	codec, err := schemas.NewCodec()
	if err != nil {
		panic(err)
	}
	cmd := &schemas.CommandEnvelope{
		CommandID: "c-1", Type: schemas.TypeCreatePayment, PaymentID: "p-1",
		OrganizationID: "org-1", UserID: "u-1", CorrelationID: "wf-9",
		IssuedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Payload: schemas.CommandPayload{Create: &schemas.CreatePayment{
			AmountMinor: 10000, Currency: "EUR", Description: "GPU hours",
		}},
	}
	value, err := codec.EncodeCommand(cmd)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x ...\n", value[:10])
	fmt.Println("prism-schema:", schemas.FingerprintHex(codec.CommandFingerprint()))

	back, err := codec.DecodeCommand(value)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.Type, back.Payload.Create.AmountMinor, back.Payload.Create.Currency)

	_, err = codec.DecodeCommand([]byte(`{"type":"CreatePayment"}`))
	fmt.Println(errors.Is(err, records.ErrBadMagic), records.ErrorClass(err))
	// Output:
	// c3 01 95 9c a8 88 e2 be b3 26 ...
	// prism-schema: 26b3bee288a89c95
	// CreatePayment 10000 EUR
	// true bad-magic
}
