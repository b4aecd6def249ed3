// Package avrorec holds the Avro single-object mechanics every aggregate's
// record model shares (payment/schemas, invoice/schemas): the Parsing
// Canonical Form and its CRC-64-AVRO fingerprint, the single-object header
// (C3 01, the 8-byte little-endian fingerprint), the set of embedded .avsc
// files of one aggregate (current schemas under avro/, older writer schemas
// under avro/v<N>/), and a Codec that encodes and decodes a record of one
// kind with hamba/avro, classifying every decode error into one of the
// records.Err* sentinels.
//
// An aggregate's schemas package supplies its .avsc files, its namespace,
// its Go types and the payload-union branches (Config); docs/schemas.md
// describes the format.
package avrorec
