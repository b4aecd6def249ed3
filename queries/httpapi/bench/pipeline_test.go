package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/gateway"
	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/topology"
)

// pipeline is the write side the gateway benchmark needs, shared by its
// runs: the namespace's payments topics, the real payment processor
// (processors.Engine, in process) and a command gateway over a command
// producer. TestMain stops it and deletes the topics.
type pipeline struct {
	brokers []string
	spec    topology.Spec
	gw      *gateway.Gateway
	stop    func()
}

var (
	pipelineOnce sync.Once
	sharedPipe   *pipeline
	pipelineErr  error
)

func (f *fixture) pipeline(b *testing.B) *pipeline {
	b.Helper()
	brokers := testkit.KafkaBrokers(b)
	pipelineOnce.Do(func() {
		if sharedPipe, pipelineErr = startPipeline(f, brokers); pipelineErr == nil {
			atEnd = append(atEnd, sharedPipe.stop)
		}
	})
	if pipelineErr != nil {
		b.Fatalf("start the write side: %v", pipelineErr)
	}
	return sharedPipe
}

func startPipeline(f *fixture, brokers []string) (p *pipeline, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	def, err := payment.Definition()
	if err != nil {
		return nil, err
	}
	spec, err := topology.NewSpec(topology.SpecConfig{Namespace: f.ns, Aggregates: []string{def.Plural}, Partitions: 3})
	if err != nil {
		return nil, err
	}
	p = &pipeline{brokers: brokers, spec: spec}
	var stops []func()
	p.stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	kopts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	if err := topology.EnsureTopicsWith(ctx, kopts, spec); err != nil {
		return nil, fmt.Errorf("create topics: %w", err)
	}
	stops = append(stops, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if cl, err := kgo.NewClient(kopts...); err == nil {
			_ = topology.DeleteTopics(ctx, cl, spec)
			cl.Close()
		}
	})
	names := spec.Names(def.Plural)

	agg, err := def.NewProcessor(aggregates.ProcessorOptions{Logger: quiet})
	if err != nil {
		return nil, err
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	eng, err := processors.NewEngine(processors.EngineConfig{
		Kafka:         kopts,
		CommandsTopic: names.CommandsTopic(), EventsTopic: names.EventsTopic(),
		ResultsTopic: names.ResultsTopic(), DLQTopic: names.CommandsDLQTopic(),
		Group:           names.ProcessorGroup(),
		TransactionalID: names.ProcessorTransactionalID() + "-" + hex.EncodeToString(id[:]),
		// Start and leave quickly; batching stays at `prism process`'s defaults.
		SessionTimeout: 6 * time.Second, RestoreSettle: time.Second, RestoreQuiet: 2 * time.Second,
		Aggregate: agg, Logger: quiet, Metrics: prometheus.NewRegistry(),
	})
	if err != nil {
		return nil, err
	}
	ectx, ecancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ectx) }()
	stops = append(stops, func() {
		ecancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	})

	prod, err := producers.NewCommandProducer(producers.Config{
		Kafka: kafkaconn.Config{Brokers: brokers},
		Aggregates: []producers.Aggregate{{
			Name: def.Name, CommandsTopic: names.CommandsTopic(), ResultsTopic: names.ResultsTopic(),
			Commands: def.Commands, Results: def.Results,
			Plural: def.Plural, EventsTopic: names.EventsTopic(), Events: def.Events,
		}},
		Logger: quiet,
	})
	if err != nil {
		return nil, err
	}
	stops = append(stops, prod.Close)
	set, err := producers.NewCommandSet(def.Commands)
	if err != nil {
		return nil, err
	}
	p.gw, err = gateway.New(ctx, gateway.Config{Producer: prod, Commands: set, Redis: f.rdb, Namespace: f.ns,
		Registerer: prometheus.NewRegistry(), Logger: quiet})
	if err != nil {
		return nil, err
	}
	stops = append(stops, p.gw.Close)
	return p, nil
}
