package main

import (
	"testing"

	"github.com/prism-cqrs/prism/internal/metricslint"
)

// TestRuntimeMetricNames: the registry every command's /metrics starts
// from (Go and process collectors) passes the naming rules, the go_ and
// process_ names admitted; each package's TestMetricNames checks its own.
func TestRuntimeMetricNames(t *testing.T) {
	problems, err := metricslint.Check(newServeRegistry(), metricslint.Options{Runtime: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
