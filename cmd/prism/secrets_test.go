package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestCommandErrorsMaskedAndStillTyped: an error a command returns reaches
// main with the secrets masked and still unwraps to its type (usageError,
// exitCodeError: the exit codes depend on it).
func TestCommandErrorsMaskedAndStillTyped(t *testing.T) {
	t.Setenv("PRISM_REDIS_URL", "redis://:S3cr3t-Rd-7782@127.0.0.1:notaport/0")
	t.Setenv("PRISM_KAFKA_SASL_PASSWORD", "S3cr3t-Ka-7783")

	root := newRootCmd()
	root.SetArgs([]string{"sink", "redis"})
	root.SetOut(&bytes.Buffer{})
	err := root.ExecuteContext(context.Background())
	if err == nil || strings.Contains(err.Error(), "S3cr3t") || !strings.Contains(err.Error(), "redis://:xxxxx@") {
		t.Errorf("sink redis with a bad URL: error %v, want the URL with its password masked", err)
	}

	root = newRootCmd()
	root.SetArgs([]string{"produce"}) // neither --file nor --generate
	var ue usageError
	if err := root.ExecuteContext(context.Background()); !errors.As(err, &ue) {
		t.Errorf("produce without input: %v, want a usageError (exit %d)", err, exitUsage)
	}
}

func TestHelpMasksURLDefaults(t *testing.T) {
	t.Setenv("PRISM_POSTGRES_URL", "postgres://prism:S3cr3t-Pg-7781@db:5432/prism")
	t.Setenv("PRISM_ELASTICSEARCH_URL", "http://elastic:S3cr3t-Es-7784@es1:9200,http://elastic:S3cr3t-Es-7784@es2:9200")
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"sink", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	if strings.Contains(help, "S3cr3t") {
		t.Errorf("help shows a secret:\n%s", help)
	}
	for _, want := range []string{"postgres://prism:xxxxx@db:5432/prism", "http://elastic:xxxxx@es1:9200,http://elastic:xxxxx@es2:9200"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks the masked default %s", want)
		}
	}
}
