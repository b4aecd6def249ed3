package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/redact"
)

// secretURLFlags are the flags whose value may hold a password.
var secretURLFlags = []string{"postgres-url", "redis-url", "elasticsearch-url"}

// redactor masks the secrets of this run: the SASL and Elasticsearch
// passwords and the passwords inside the connection URLs (README,
// Configuration).
func (g *globals) redactor() *redact.Redactor {
	secrets := []string{g.saslPassword, g.elasticPassword, redact.Password(g.postgresURL), redact.Password(g.redisURL)}
	for _, u := range kafkaconn.SplitList(g.elasticsearchURL) {
		secrets = append(secrets, redact.Password(u))
	}
	return redact.New(secrets...)
}

// maskSecretDefaults shows the URL flags' defaults (read from PRISM_*
// variables) with their passwords masked in --help.
func maskSecretDefaults(fs *pflag.FlagSet) {
	for _, name := range secretURLFlags {
		if fl := fs.Lookup(name); fl != nil {
			fl.DefValue = redact.URL(fl.DefValue)
		}
	}
}

// redactErrors makes every command of the tree return its error with the
// secrets masked, so main prints no password whatever a driver put in it.
func redactErrors(cmd *cobra.Command, g *globals) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error { return g.redactor().Error(run(c, args)) }
	}
	for _, sub := range cmd.Commands() {
		redactErrors(sub, g)
	}
}
