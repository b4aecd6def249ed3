// Package producers puts commands on the commands topic: a franz-go command
// producer (idempotent, keyed by payment id, with Prism's record headers)
// that can wait for each command's outcome on the results topic, the JSON
// Lines command format that `prism produce --file` reads, and a
// deterministic workload generator for `prism produce --generate`.
//
// The JSON Lines format is a public contract documented in
// docs/producers.md; CommandLine is its Go form.
package producers
