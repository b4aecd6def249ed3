package testkit

// The four service containers, configured like docker-compose.kafka.yml and
// scripts/services.sh: single-node Kafka in KRaft mode with transactions at
// replication factor 1, Postgres 15 with the prism role and database, Redis 7
// without persistence, Elasticsearch 8.19.7 with security off.

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	kafkaImage         = "apache/kafka:4.1.1"
	postgresImage      = "postgres:15"
	redisImage         = "redis:7"
	elasticsearchImage = "docker.elastic.co/elasticsearch/elasticsearch:8.19.7"
)

// run starts req and returns the container's host and the host port mapped
// to port.
func run(ctx context.Context, req testcontainers.ContainerRequest, port nat.Port) (string, string, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		return "", "", fmt.Errorf("start %s: %w", req.Image, err)
	}
	host, err := c.Host(ctx)
	if err != nil {
		return "", "", fmt.Errorf("host of %s: %w", req.Image, err)
	}
	mapped, err := c.MappedPort(ctx, port)
	if err != nil {
		return "", "", fmt.Errorf("port %s of %s: %w", port, req.Image, err)
	}
	return host, mapped.Port(), nil
}

func startPostgres(ctx context.Context) (string, error) {
	host, port, err := run(ctx, testcontainers.ContainerRequest{
		Image:        postgresImage,
		ExposedPorts: []string{"5432/tcp"},
		Env:          map[string]string{"POSTGRES_USER": "prism", "POSTGRES_PASSWORD": "prism", "POSTGRES_DB": "prism"},
		Cmd:          []string{"postgres", "-c", "max_connections=300"},
		// The entrypoint starts a temporary server first: ready on the second message.
		WaitingFor: wait.ForAll(
			wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
			wait.ForListeningPort("5432/tcp"),
		).WithDeadline(containerStartTimeout),
	}, "5432/tcp")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://prism:prism@%s/prism?sslmode=disable", net.JoinHostPort(host, port)), nil
}

func startRedis(ctx context.Context) (string, error) {
	host, port, err := run(ctx, testcontainers.ContainerRequest{
		Image:        redisImage,
		ExposedPorts: []string{"6379/tcp"},
		Cmd:          []string{"redis-server", "--save", "", "--appendonly", "no"},
		WaitingFor:   wait.ForLog("Ready to accept connections").WithStartupTimeout(containerStartTimeout),
	}, "6379/tcp")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("redis://%s/0", net.JoinHostPort(host, port)), nil
}

func startElasticsearch(ctx context.Context) (string, error) {
	host, port, err := run(ctx, testcontainers.ContainerRequest{
		Image:        elasticsearchImage,
		ExposedPorts: []string{"9200/tcp"},
		Env: map[string]string{
			"discovery.type":         "single-node",
			"xpack.security.enabled": "false",
			"cluster.routing.allocation.disk.threshold_enabled": "false",
			"action.destructive_requires_name":                  "false",
			"ES_JAVA_OPTS":                                      "-Xms1g -Xmx1g",
		},
		WaitingFor: wait.ForHTTP("/_cluster/health?wait_for_status=yellow&timeout=5s").
			WithPort("9200/tcp").WithStartupTimeout(containerStartTimeout),
	}, "9200/tcp")
	if err != nil {
		return "", err
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// startKafka runs a single KRaft node. The broker must advertise an address
// that works both from the tests and from inside the container (the
// transaction coordinator sends markers to the advertised listener), so the
// container listens on the same port number it is published on.
func startKafka(ctx context.Context) (string, error) {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("docker provider: %w", err)
	}
	defer p.Close()
	host, err := p.DaemonHost(ctx)
	if err != nil {
		return "", fmt.Errorf("docker host: %w", err)
	}
	free, err := freePort()
	if err != nil {
		return "", err
	}
	port := strconv.Itoa(free)
	natPort := nat.Port(port + "/tcp")
	_, _, err = run(ctx, testcontainers.ContainerRequest{
		Image:        kafkaImage,
		ExposedPorts: []string{string(natPort)},
		Env: map[string]string{
			"KAFKA_NODE_ID":                                          "1",
			"KAFKA_PROCESS_ROLES":                                    "broker,controller",
			"KAFKA_LISTENERS":                                        "PLAINTEXT://0.0.0.0:" + port + ",CONTROLLER://127.0.0.1:9093",
			"KAFKA_ADVERTISED_LISTENERS":                             "PLAINTEXT://" + net.JoinHostPort(host, port),
			"KAFKA_CONTROLLER_LISTENER_NAMES":                        "CONTROLLER",
			"KAFKA_INTER_BROKER_LISTENER_NAME":                       "PLAINTEXT",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                   "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                         "1@127.0.0.1:9093",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                        "false",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
			"KAFKA_HEAP_OPTS":                                        "-Xms1g -Xmx1g",
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = nat.PortMap{natPort: {{HostIP: "", HostPort: port}}}
		},
		WaitingFor: wait.ForLog("Kafka Server started").WithStartupTimeout(containerStartTimeout),
	}, natPort)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

// freePort asks the kernel for a free TCP port (there is a small window in
// which another process could take it before the container does).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
