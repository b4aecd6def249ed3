// Package producers puts commands on their aggregate's commands topic: a
// franz-go command producer (idempotent, keyed by aggregate id, with
// Prism's record headers) that can wait for each command's outcome on the
// aggregate's results topic, and the JSON Lines reader that `prism produce
// --file` uses, which picks each line's aggregate by its `type`.
//
// It knows no aggregate: each one brings a records.CommandCodec (parse a
// JSON Lines object, encode a command into a record), a
// records.ResultDecoder and its topics (Aggregate, from its
// aggregates.Definition). The aggregate-independent rules of the JSON Lines
// format are in producers/jsonl; the format is a public contract documented
// in docs/producers.md.
package producers
