package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/prism-cqrs/prism/records"
)

// Avro single-object encoding: C3 01, the 8-byte little-endian CRC-64-AVRO
// fingerprint of the writer schema, then the body.
const (
	magic0    = 0xC3
	magic1    = 0x01
	headerLen = 10 // magic (2) + fingerprint (8)
)

// parseHeader splits a single-object encoded value into the writer
// fingerprint and the body.
func parseHeader(b []byte) (uint64, []byte, error) {
	if len(b) >= 1 && b[0] != magic0 || len(b) >= 2 && b[1] != magic1 {
		return 0, nil, fmt.Errorf("%w (first bytes % x, want c3 01)", records.ErrBadMagic, b[:min(len(b), 2)])
	}
	if len(b) < headerLen {
		return 0, nil, fmt.Errorf("%w: header needs %d bytes, got %d", records.ErrTruncated, headerLen, len(b))
	}
	return binary.LittleEndian.Uint64(b[2:headerLen]), b[headerLen:], nil
}

func makeHeader(fp uint64) [headerLen]byte {
	var h [headerLen]byte
	h[0], h[1] = magic0, magic1
	binary.LittleEndian.PutUint64(h[2:], fp)
	return h
}

var errTrailingBytes = errors.New("bytes left after the record")

// classifyBodyError wraps a hamba/avro body error with its sentinel.
func classifyBodyError(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: body ends inside the record: %w", records.ErrTruncated, err)
	case strings.Contains(err.Error(), "unknown union type"):
		return fmt.Errorf("%w: union branch index out of range: %w", records.ErrBadUnion, err)
	default:
		return fmt.Errorf("%w: %w", records.ErrMalformed, err)
	}
}
