package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples holds one example per command, by command path; attachExamples
// puts them in each command's help (Example).
var examples = map[string]string{
	"prism": `  prism topology apply && prism process & prism sink postgres &
  prism produce --generate 1000 --wait`,
	"prism topology":          `  prism topology diff --partitions 12`,
	"prism topology apply":    `  prism topology apply --namespace team-a --partitions 24 --dry-run`,
	"prism topology diff":     `  prism topology diff --namespace team-a || echo "cluster differs from the spec"`,
	"prism topology describe": `  prism topology describe --format mermaid > topology.mmd`,
	"prism produce": `  prism produce --file commands.jsonl --wait
  prism produce --generate 10000 --organizations 20 --seed 7 --rate 500`,
	"prism process": `  PRISM_KAFKA_BROKERS=kafka-1:9092,kafka-2:9092 prism process --instance-id proc-1 --http :9464`,
	"prism sink":    `  PRISM_POSTGRES_URL='postgres://prism:secret@db:5432/prism' prism sink postgres --http :9465`,
	"prism lag": `  prism lag --group prism.sink.redis --json
  prism lag --max-lag 1000 >/dev/null || echo "a group is more than 1000 records behind"
  prism lag --serve-metrics :9466   # Prometheus scrapes the lag of every group`,
	"prism demo": `  prism demo --commands 5000 --seed 42`,
	"prism serve": `  prism serve --tokens-file /etc/prism/tokens --http :8080
  curl -H "Authorization: Bearer $TOKEN" localhost:8080/v1/payments/p-1`,
	"prism serve hash-token": `  printf '%s' "$TOKEN" | prism serve hash-token   # then: <digest> org-1,org-2 in the tokens file`,
}

func attachExamples(cmd *cobra.Command) {
	if ex, ok := examples[cmd.CommandPath()]; ok {
		cmd.Example = strings.TrimRight(ex, "\n")
	}
	for _, sub := range cmd.Commands() {
		attachExamples(sub)
	}
}
