package schemas

// The codec API (implemented in this package; signatures are the contract
// the rest of Prism codes against):
//
//	type Codec struct{ ... }                       // safe for concurrent use
//	func NewCodec() (*Codec, error)                // parses the embedded .avsc files
//	func (c *Codec) EncodeCommand(cmd *CommandEnvelope) ([]byte, error)
//	func (c *Codec) DecodeCommand(b []byte) (*CommandEnvelope, error)
//	func (c *Codec) EncodeEvent(ev *EventEnvelope) ([]byte, error)
//	func (c *Codec) DecodeEvent(b []byte) (*EventEnvelope, error)
//	func (c *Codec) EncodeResult(r *CommandResult) ([]byte, error)
//	func (c *Codec) DecodeResult(b []byte) (*CommandResult, error)
//	func (c *Codec) Fingerprint(b []byte) (uint64, error) // of a single-object encoded value
//
// Decode errors wrap one of the sentinels ErrBadMagic, ErrTruncated,
// ErrUnknownFingerprint, ErrBadUnion or ErrMalformed, so callers (the DLQ)
// can name the error class.
