// Package gateway is the command gateway of `prism serve` (POST
// /v1/commands): the synchronous command bus for callers without a Kafka
// client. It takes one JSON Lines command, checks the caller's
// organization, produces it with the producer API, awaits its result and
// answers with it and the write's consistency token; a retried POST with
// the same commandId gets the same answer from Redis, byte for byte.
// The HTTP layer (queries/httpapi) maps Submit's status and body onto the
// response as they are.
package gateway
