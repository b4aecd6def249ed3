package testkit

// The testcontainers-go path: when a service is not configured (its PRISM_*
// variable is unset), does not answer at its default address, and a Docker
// engine answers, the harness starts that service in a container once per
// test process and hands its address to every test. Testcontainers' reaper
// (Ryuk) removes the containers when the test process ends.
//
// PRISM_TESTCONTAINERS=0 turns this path off (missing services then fail
// under CI and skip otherwise, as without Docker).

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Services the harness can start in a container.
const (
	serviceKafka         = "Kafka"
	servicePostgres      = "Postgres"
	serviceRedis         = "Redis"
	serviceElasticsearch = "Elasticsearch"
)

// containerStartTimeout bounds one container's start (image pull included).
const containerStartTimeout = 5 * time.Minute

type startedContainer struct {
	once sync.Once
	addr string
	err  error
}

var (
	containersMu sync.Mutex
	containers   = map[string]*startedContainer{}

	dockerOnce sync.Once
	dockerOK   bool
)

// fromContainer returns the address of service running in a container, and
// true, when the testcontainers path applies: envName is unset, the path is
// not turned off and a Docker engine answers. It returns false when the path
// does not apply. When the path applies but the container does not start, the
// test fails (under CI or not): Docker was chosen, so the reason must show.
func fromContainer(t testing.TB, service, envName string) (string, bool) {
	t.Helper()
	if os.Getenv(envName) != "" || os.Getenv("PRISM_TESTCONTAINERS") == "0" || !dockerAnswers() {
		return "", false
	}
	containersMu.Lock()
	c, ok := containers[service]
	if !ok {
		c = &startedContainer{}
		containers[service] = c
	}
	containersMu.Unlock()
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), containerStartTimeout)
		defer cancel()
		c.addr, c.err = startContainer(ctx, service)
	})
	if c.err != nil {
		t.Fatalf("%s: starting it with testcontainers-go (a Docker engine answers, %s is unset): %v", service, envName, c.err)
	}
	t.Logf("%s: using the testcontainers-go container at %s", service, c.addr)
	return c.addr, true
}

// dockerAnswers reports, once per process, whether a Docker engine answers.
// testcontainers-go panics when it finds no Docker host at all: that counts
// as no engine.
func dockerAnswers() bool {
	dockerOnce.Do(func() {
		defer func() {
			if recover() != nil {
				dockerOK = false
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := testcontainers.NewDockerProvider()
		if err != nil {
			return
		}
		defer p.Close()
		dockerOK = p.Health(ctx) == nil
	})
	return dockerOK
}

func startContainer(ctx context.Context, service string) (string, error) {
	switch service {
	case serviceKafka:
		return startKafka(ctx)
	case servicePostgres:
		return startPostgres(ctx)
	case serviceRedis:
		return startRedis(ctx)
	case serviceElasticsearch:
		return startElasticsearch(ctx)
	}
	return "", fmt.Errorf("no container for service %q", service)
}
