package schemas

import (
	"encoding/binary"
	"fmt"

	"github.com/prism-cqrs/prism/records"
)

// parseHeader splits an Avro single-object encoded value (C3 01, the
// 8-byte little-endian fingerprint, the body) into fingerprint and body.
func parseHeader(b []byte) (uint64, []byte, error) {
	if len(b) >= 1 && b[0] != 0xC3 || len(b) >= 2 && b[1] != 0x01 {
		return 0, nil, fmt.Errorf("%w (first bytes % x, want c3 01)", records.ErrBadMagic, b[:min(len(b), 2)])
	}
	if len(b) < headerLen {
		return 0, nil, fmt.Errorf("%w: header needs %d bytes, got %d", records.ErrTruncated, headerLen, len(b))
	}
	return binary.LittleEndian.Uint64(b[2:headerLen]), b[headerLen:], nil
}

func makeHeader(fp uint64) [headerLen]byte {
	var h [headerLen]byte
	h[0], h[1] = 0xC3, 0x01
	binary.LittleEndian.PutUint64(h[2:], fp)
	return h
}

// Fingerprint returns the writer-schema fingerprint in the header of a
// single-object encoded value, whether or not this codec knows it.
func (c *Codec) Fingerprint(b []byte) (uint64, error) {
	fp, _, err := parseHeader(b)
	if err != nil {
		return 0, fmt.Errorf("invoice schemas: read header: %w", err)
	}
	return fp, nil
}
