# Prism: build, test and local services.
#
#   make test              services up, chromium, go vet, unit tests (-race), a short fuzz run, integration tests
#   make fuzz              every fuzz target for FUZZ_TIME each (scripts/fuzz.sh)
#   make services-up       start Postgres, Redis, Kafka, Elasticsearch on 127.0.0.1
#   make demo              build and run the end-to-end demo
#   make bench-e2e         the whole pipeline vs bare writers of the same rows
#   make chaos             the fault run (CHAOS_COMMANDS, CHAOS_SEED; docs/chaos.md)
#
# Ports and folders come from the PRISM_* variables described in
# scripts/services.sh and docs/services.md; the test connection settings below
# follow them unless set explicitly.

GO       ?= go
SERVICES := scripts/services.sh
# The browser of the status page's test (installs Debian's chromium when missing).
CHROMIUM := scripts/setup-chromium.sh
BIN      := bin/prism

PRISM_KAFKA_PORT    ?= 9092
PRISM_POSTGRES_PORT ?= 5432
PRISM_REDIS_PORT    ?= 6379
PRISM_ES_PORT       ?= 9200
export PRISM_KAFKA_BROKERS     ?= 127.0.0.1:$(PRISM_KAFKA_PORT)
export PRISM_POSTGRES_URL      ?= postgres://prism:prism@127.0.0.1:$(PRISM_POSTGRES_PORT)/prism?sslmode=disable
export PRISM_REDIS_URL         ?= redis://127.0.0.1:$(PRISM_REDIS_PORT)/0
export PRISM_ELASTICSEARCH_URL ?= http://127.0.0.1:$(PRISM_ES_PORT)

# Extra flags: UNIT_FLAGS for unit tests, INTEGRATION_FLAGS for integration
# tests (verbose under CI, so the log shows each test that ran), BENCH_FLAGS.
UNIT_FLAGS ?=
ifdef CI
INTEGRATION_FLAGS ?= -v
else
INTEGRATION_FLAGS ?=
endif
BENCH_FLAGS ?=
# A benchmark package's binary runs every benchmark of it (rebuild/: several
# minutes against the services): more than go test's default 10m.
BENCH_TIMEOUT ?= 30m
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
UNIT_TIMEOUT ?= 20m
# Fuzzing (scripts/fuzz.sh, docs/testing.md): every FuzzX target for
# FUZZ_TIME under make fuzz, for FUZZ_SHORT under make test.
FUZZ_TIME  ?= 60s
FUZZ_SHORT ?= 2s
FUZZ       := scripts/fuzz.sh
INTEGRATION_TIMEOUT ?= 60m

# Packages, computed when a recipe runs (others add packages all the time).
UNIT_PKGS  = $$($(GO) list ./... | grep -v '/integration')
BENCH_PKGS = $$(grep -rl --include='*_test.go' --exclude-dir='.?*' --exclude-dir='_*' --exclude-dir=testdata '^func Benchmark' . | xargs -r -n1 dirname | sort -u)

# The chaos run (docs/chaos.md): commands, seed (empty: one from the clock,
# printed), produce rate (commands/s) and go test's timeout.
CHAOS_COMMANDS ?= 1000000
CHAOS_SEED     ?=
CHAOS_RATE     ?=
CHAOS_TIMEOUT  ?= 4h
# make test runs its short version (30,000 commands) with the other
# integration tests: it restarts the services it is given (never run it
# against services others use: INTEGRATION_FLAGS='-skip TestChaosKillsAndRestarts'
# leaves it out); make chaos runs the long one.
CHAOS_TEST     = ^TestChaosKillsAndRestarts$$

.PHONY: all build test chaos test-unit test-integration fuzz fuzz-short bench bench-report bench-e2e demo fmt vet lint \
        services-up services-down services-status services-logs clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/prism

## test: everything CI runs. Brings the services up itself (idempotent).
test:
	$(SERVICES) up
	$(CHROMIUM)
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) test -race -timeout $(UNIT_TIMEOUT) $(UNIT_FLAGS) $(UNIT_PKGS)
	$(GO) test -count=1 $(UNIT_FLAGS) -run 'TestMemory' ./payment/
	GO=$(GO) $(FUZZ) $(FUZZ_SHORT)
	$(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) $(INTEGRATION_FLAGS) ./integration/...

test-unit:
	$(GO) test -race -timeout $(UNIT_TIMEOUT) $(UNIT_FLAGS) $(UNIT_PKGS)
	$(GO) test -count=1 $(UNIT_FLAGS) -run 'TestMemory' ./payment/

test-integration: services-up
	$(CHROMIUM)
	$(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) $(INTEGRATION_FLAGS) ./integration/...

## fuzz: every fuzz target, one after the other, FUZZ_TIME each; fails
## (listing them) when a target finds a crasher, kept in testdata/fuzz/.
fuzz:
	GO=$(GO) $(FUZZ) $(FUZZ_TIME)

## fuzz-short: the same for FUZZ_SHORT each (part of make test).
fuzz-short:
	GO=$(GO) $(FUZZ) $(FUZZ_SHORT)

## bench: every package that has a BenchmarkX (some need the services).
bench: services-up
	@pkgs="$(BENCH_PKGS)"; \
	if [ -z "$$pkgs" ]; then echo "no benchmarks yet"; exit 0; fi; \
	echo "$(GO) test -run '^$$' -bench . -benchmem -timeout $(BENCH_TIMEOUT) $(BENCH_FLAGS) $$pkgs"; \
	$(GO) test -run '^$$' -bench . -benchmem -timeout $(BENCH_TIMEOUT) $(BENCH_FLAGS) $$pkgs

## bench-report: Prism's processor beside its Kafka Streams peer
## (bench/peers/kstreams, built by mvn) on the same commands; writes
## BENCHMARKS.md and bench/plots/*.png. Not part of test. BENCH_REPORT_FLAGS:
## e.g. -commands 200000 -rounds 5 -rate 2000 (go run ./bench/report -h).
BENCH_REPORT_FLAGS ?=
bench-report: services-up build
	cd bench/peers/kstreams && mvn -B -q -Dstyle.color=never package
	$(GO) run ./bench/report $(BENCH_REPORT_FLAGS)

## bench-e2e: the processor and the four sinks against bare writers of the
## same rows (integration/pipeline_bench_test.go). E2E_COMMANDS commands
## (the issue's figure is 100000), E2E_ROUNDS rounds.
E2E_COMMANDS ?= 30000
E2E_ROUNDS   ?= 3
bench-e2e: services-up
	PRISM_BENCH_COMMANDS=$(E2E_COMMANDS) PRISM_BENCH_ROUNDS=$(E2E_ROUNDS) \
	$(GO) test -run '^$$' -bench '^BenchmarkPipelineEndToEnd$$' -benchtime 1x -timeout $(BENCH_TIMEOUT) $(BENCH_FLAGS) ./integration/

## chaos: CHAOS_COMMANDS commands while processes are killed and every service
## restarted once (through $(SERVICES), with this environment); prints the
## table of faults and checks, fails on any difference.
chaos: services-up
	CHAOS_COMMANDS=$(CHAOS_COMMANDS) CHAOS_SEED=$(CHAOS_SEED) CHAOS_RATE=$(CHAOS_RATE) \
		$(GO) test -count=1 -v -timeout $(CHAOS_TIMEOUT) -run '$(CHAOS_TEST)' ./integration/

demo: services-up build
	$(BIN) demo --log-level warn $(DEMO_FLAGS)

fmt:
	$(GO) fmt ./...

vet:
	$(GO) vet ./...

## lint: go vet and staticcheck (both part of make test).
lint: vet
	$(STATICCHECK) ./...

services-up:
	$(SERVICES) up

services-down:
	$(SERVICES) down

services-status:
	$(SERVICES) status

services-logs:
	$(SERVICES) logs

## clean: build output only (downloads and service data stay in .cache).
clean:
	rm -rf bin
