package schemas_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/schemas"
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
	fmt.Println(errors.Is(err, schemas.ErrBadMagic), schemas.ErrorClass(err))
	// Output:
	// c3 01 c7 91 f4 08 61 4d 24 b0 ...
	// prism-schema: b0244d6108f491c7
	// CreatePayment 10000 EUR
	// true bad-magic
}
