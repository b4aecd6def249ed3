#!/usr/bin/env bash
# Starts, stops and inspects the four services Prism is tested against:
# Postgres, Redis, Kafka (KRaft, single node) and Elasticsearch, on 127.0.0.1.
#
#   scripts/services.sh up     [service...]   start what is not running, wait until ready
#   scripts/services.sh down   [service...]   stop what this script started (pid files)
#   scripts/services.sh status [service...]   running/stopped, pid, address
#   scripts/services.sh logs   [service...]   tail of each service's log
#   scripts/services.sh env                   the PRISM_* connection settings, as exports
#
# Services: postgres redis kafka elasticsearch (default: all four).
#
# With a Docker engine that answers (`docker info`), `up`/`down`/`status`/`logs`
# drive docker-compose.kafka.yml instead (same ports). PRISM_SERVICES_MODE=native
# forces the native path, PRISM_SERVICES_MODE=docker forces Docker.
#
# Native path, without Docker:
#   - Postgres and Redis from Debian packages (installed with apt-get when
#     missing and running as root); Postgres runs its own cluster in
#     $PRISM_SERVICES_DIR/postgres (not the system cluster).
#   - Kafka from Maven Central jars (scripts/kafka/pom.xml), run with JDK 17,
#     storage formatted once; besides PLAINTEXT, a SASL_SSL listener
#     (SCRAM-SHA-512, a CA and certificate made with openssl) on
#     $PRISM_KAFKA_SASL_PORT (9094; empty: none), see docs/security.md.
#   - Elasticsearch from Maven Central's integ-test-zip, run as a dedicated
#     non-root user ($PRISM_ES_USER, created when missing) with a JDK from
#     /usr/lib/jvm.
# Downloads live in $PRISM_CACHE_DIR (default .cache) and data in
# $PRISM_SERVICES_DIR (default .cache/services); both are reused by later runs.
#
# Failure: `up` waits for each service with a bounded timeout
# ($PRISM_SERVICES_TIMEOUT seconds, default 180); when one does not come up it
# names it, prints the tail of its log and exits non-zero. A port held by a
# process this script did not start is reported as taken and never touched.
# `down` stops only processes whose pid files this script wrote.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ---------------------------------------------------------------- settings
CACHE_DIR="${PRISM_CACHE_DIR:-$ROOT/.cache}"
SD="${PRISM_SERVICES_DIR:-$CACHE_DIR/services}"
# Postgres and Elasticsearch run as their own users. When the checkout sits
# below a folder they cannot enter (a home of mode 700, say), their data and
# the unpacked Elasticsearch live in a folder of this checkout's own under
# /var/tmp instead (downloads stay in $CACHE_DIR).
if [ -z "${PRISM_SERVICES_DIR:-}" ] && [ "$(id -u)" -eq 0 ] \
  && ! runuser -u nobody -- test -x "$ROOT" 2>/dev/null; then
  SD="/var/tmp/prism-services-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
fi
TIMEOUT="${PRISM_SERVICES_TIMEOUT:-180}"
MODE="${PRISM_SERVICES_MODE:-auto}"

PG_PORT="${PRISM_POSTGRES_PORT:-5432}"
PG_USER="${PRISM_POSTGRES_USER:-prism}"
PG_PASSWORD="${PRISM_POSTGRES_PASSWORD:-prism}"
PG_DB="${PRISM_POSTGRES_DB:-prism}"
PG_MAX_CONNECTIONS="${PRISM_POSTGRES_MAX_CONNECTIONS:-300}"

REDIS_PORT="${PRISM_REDIS_PORT:-6379}"

KAFKA_VERSION="${PRISM_KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${PRISM_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${PRISM_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${PRISM_KAFKA_HEAP:-1g}"
KAFKA_GC_OPTS="${PRISM_KAFKA_GC_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20}"
KAFKA_AUTO_CREATE="${PRISM_KAFKA_AUTO_CREATE_TOPICS:-false}"
KAFKA_JAVA_HOME="${PRISM_KAFKA_JAVA_HOME:-}"
# A second listener, SASL_SSL with SCRAM-SHA-512, on by default; an empty
# PRISM_KAFKA_SASL_PORT turns it off (docs/security.md).
KAFKA_SASL_PORT="${PRISM_KAFKA_SASL_PORT-9094}"
KAFKA_SCRAM_USER="${PRISM_KAFKA_SCRAM_USER:-prism}"
KAFKA_SCRAM_PASSWORD="${PRISM_KAFKA_SCRAM_PASSWORD:-prism-scram-secret}"
KAFKA_LIBS="$CACHE_DIR/kafka-libs"

ES_VERSION="${PRISM_ES_VERSION:-8.19.7}"
ES_PORT="${PRISM_ES_PORT:-9200}"
ES_TRANSPORT_PORT="${PRISM_ES_TRANSPORT_PORT:-9300}"
ES_HEAP="${PRISM_ES_HEAP:-1g}"
ES_USER="${PRISM_ES_USER:-prism-es}"
ES_JAVA_HOME_SETTING="${PRISM_ES_JAVA_HOME:-}"
ES_ZIP="$CACHE_DIR/es/elasticsearch-$ES_VERSION.zip"

ALL_SERVICES=(postgres redis kafka elasticsearch)
COMPOSE_FILE="$ROOT/docker-compose.kafka.yml"
RUN="$SD/run"

# ---------------------------------------------------------------- helpers
say() { printf 'services: %s\n' "$*"; }
err() { printf 'services: ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_user USER CMD...: runs CMD as USER (directly when we already are USER or
# cannot switch user).
as_user() {
  local user="$1"; shift
  if is_root && [ "$user" != root ]; then
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# port_owner PORT: the `ss` line of the process listening on PORT, if any.
port_owner() {
  ss -ltnpH "sport = :$1" 2>/dev/null | head -n 1 | sed 's/  */ /g'
}

pid_file() { echo "$RUN/$1.pid"; }

# pid_alive SERVICE: the service's pid file names a live process whose command
# line still matches (guards against pid reuse).
pid_alive() {
  local f pid pattern
  f="$(pid_file "$1")"
  [ -s "$f" ] || return 1
  pid="$(head -n 1 "$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  case "$1" in
    postgres) pattern=postgres ;;
    redis) pattern=redis-server ;;
    kafka) pattern=kafka.Kafka ;;
    elasticsearch) pattern=org.elasticsearch ;;
  esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$pattern"
}

service_log() {
  case "$1" in
    postgres) echo "$SD/postgres/postgres.log" ;;
    redis) echo "$SD/redis/redis.log" ;;
    kafka) echo "$SD/kafka/kafka.log" ;;
    elasticsearch) echo "$SD/elasticsearch/logs/prism.log" ;;
  esac
}

service_port() {
  case "$1" in
    postgres) echo "$PG_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
    kafka) echo "$KAFKA_PORT" ;;
    elasticsearch) echo "$ES_PORT" ;;
  esac
}

service_url() {
  case "$1" in
    postgres) echo "postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable" ;;
    redis) echo "redis://127.0.0.1:$REDIS_PORT/0" ;;
    kafka) echo "127.0.0.1:$KAFKA_PORT" ;;
    elasticsearch) echo "http://127.0.0.1:$ES_PORT" ;;
  esac
}

# fail_service NAME REASON: names the failed service, prints its log tail, exits.
fail_service() {
  local name="$1" reason="$2" log
  log="$(service_log "$name")"
  err "$name: $reason"
  if [ -f "$log" ]; then
    printf -- '---- last 40 lines of %s ----\n' "$log" >&2
    tail -n 40 "$log" >&2 || true
    printf -- '---- end of %s ----\n' "$log" >&2
  else
    err "$name: no log at $log"
  fi
  exit 1
}

# check_port_free NAME PORT: fails when PORT is held by something this script
# did not start.
check_port_free() {
  local name="$1" port="$2" owner
  if port_open "$port"; then
    owner="$(port_owner "$port")"
    err "$name: port 127.0.0.1:$port is already taken by a process this script did not start${owner:+: $owner}"
    case "$name" in
      postgres) err "  (a system Postgres cluster? see \`pg_lsclusters\`; or set PRISM_POSTGRES_PORT)" ;;
      redis) err "  (a system redis-server? or set PRISM_REDIS_PORT)" ;;
      kafka) err "  (set PRISM_KAFKA_PORT / PRISM_KAFKA_CONTROLLER_PORT)" ;;
      elasticsearch) err "  (set PRISM_ES_PORT / PRISM_ES_TRANSPORT_PORT)" ;;
    esac
    exit 1
  fi
}

# wait_until NAME CHECK...: runs CHECK every half second until it succeeds or
# TIMEOUT passes; fails the service when its process dies or time runs out.
wait_until() {
  local name="$1"; shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$name"; then
      fail_service "$name" "the process exited before it became ready"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail_service "$name" "not ready after ${TIMEOUT}s (PRISM_SERVICES_TIMEOUT)"
    fi
    sleep 0.5
  done
}

apt_install() {
  local pkg="$1"
  is_root || die "$pkg is not installed and this is not root: install it (apt-get install $pkg)"
  say "installing $pkg with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d (exit 101) stops the package from starting its own system
  # service on our ports; added only if the machine does not have one.
  local policy=/usr/sbin/policy-rc.d added=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  { apt-get update -qq && apt-get install -y -qq "$pkg" >/dev/null; } || {
    [ "$added" = 1 ] && rm -f "$policy"
    die "apt-get install $pkg failed"
  }
  [ "$added" = 1 ] && rm -f "$policy"
  return 0
}

# find_jdk MAJOR...: the first JDK in /usr/lib/jvm whose major version is one
# of MAJOR (in order of preference).
find_jdk() {
  local major d v
  for major in "$@"; do
    for d in /usr/lib/jvm/*; do
      [ -x "$d/bin/java" ] || continue
      [ -L "$d" ] && continue
      v="$("$d/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
      if [ "$v" = "$major" ]; then echo "$d"; return 0; fi
    done
  done
  return 1
}

# ---------------------------------------------------------------- postgres
pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

pg_owner() { if is_root; then echo postgres; else id -un; fi; }

pg_ready() {
  "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres
}

pg_psql() {
  as_user "$(pg_owner)" "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$SD/postgres/socket" -p "$PG_PORT" -d postgres "$@"
}

up_postgres() {
  if [ -z "$(pg_bin)" ]; then apt_install postgresql; fi
  local bin data owner
  bin="$(pg_bin)" || die "postgres: no initdb under /usr/lib/postgresql/*/bin"
  data="$SD/postgres/data"
  owner="$(pg_owner)"
  if pid_alive postgres; then
    wait_until postgres pg_ready
    say "postgres already running (pid $(head -n 1 "$(pid_file postgres)")) at $(service_url postgres)"
    return 0
  fi
  check_port_free postgres "$PG_PORT"
  mkdir -p "$SD/postgres/socket"
  chown "$owner" "$SD/postgres" "$SD/postgres/socket"
  if [ ! -s "$data/PG_VERSION" ]; then
    say "postgres: initdb $data"
    rm -rf "$data"
    mkdir -p "$data"; chown "$owner" "$data"; chmod 700 "$data"
    as_user "$owner" "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$SD/postgres/initdb.log" 2>&1 \
      || { cat "$SD/postgres/initdb.log" >&2; die "postgres: initdb failed"; }
  fi
  cat >"$data/prism.conf" <<EOF
# Written by scripts/services.sh on every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SD/postgres/socket'
max_connections = $PG_MAX_CONNECTIONS
EOF
  chown "$owner" "$data/prism.conf"
  grep -q "^include_if_exists = 'prism.conf'" "$data/postgresql.conf" \
    || echo "include_if_exists = 'prism.conf'" >>"$data/postgresql.conf"
  say "postgres: starting on 127.0.0.1:$PG_PORT"
  touch "$SD/postgres/postgres.log"; chown "$owner" "$SD/postgres/postgres.log"
  as_user "$owner" "$bin/pg_ctl" -D "$data" -l "$SD/postgres/postgres.log" -s -w -t "$TIMEOUT" start 9>&- \
    || fail_service postgres "pg_ctl start failed"
  head -n 1 "$data/postmaster.pid" >"$(pid_file postgres)"
  wait_until postgres pg_ready
  # Role and database, created once (idempotent). CREATEROLE: the tests
  # create roles of their own with passwords (integration/secure_*_test.go).
  pg_psql -v user="$PG_USER" -v pw="$PG_PASSWORD" -v db="$PG_DB" <<'EOF' || fail_service postgres "could not create role/database"
SELECT format('CREATE ROLE %I LOGIN CREATEDB CREATEROLE PASSWORD %L', :'user', :'pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB CREATEROLE PASSWORD %L', :'user', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
EOF
  say "postgres ready at $(service_url postgres)"
}

down_postgres() {
  pid_alive postgres || { rm -f "$(pid_file postgres)"; say "postgres not running (nothing to stop)"; return 0; }
  say "postgres: stopping"
  as_user "$(pg_owner)" "$(pg_bin)/pg_ctl" -D "$SD/postgres/data" -s -m fast -w -t 60 stop \
    || err "postgres: pg_ctl stop failed"
  rm -f "$(pid_file postgres)"
}

# ---------------------------------------------------------------- redis
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

up_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if pid_alive redis; then
    wait_until redis redis_ready
    say "redis already running (pid $(head -n 1 "$(pid_file redis)")) at $(service_url redis)"
    return 0
  fi
  check_port_free redis "$REDIS_PORT"
  mkdir -p "$SD/redis/data"
  local log="$SD/redis/redis.log"
  [ -f "$log" ] && mv -f "$log" "$log.1"
  say "redis: starting on 127.0.0.1:$REDIS_PORT"
  # No snapshots or AOF: a test instance; the data dir still holds anything
  # written explicitly (SAVE).
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
    --dir "$SD/redis/data" --pidfile "$(pid_file redis)" --logfile "$log" \
    --save "" --appendonly no --maxclients 4096 9>&- \
    || fail_service redis "redis-server did not start"
  local deadline=$((SECONDS + 10))
  until [ -s "$(pid_file redis)" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
  wait_until redis redis_ready
  say "redis ready at $(service_url redis)"
}

down_redis() {
  pid_alive redis || { rm -f "$(pid_file redis)"; say "redis not running (nothing to stop)"; return 0; }
  say "redis: stopping"
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(head -n 1 "$(pid_file redis)")" 2>/dev/null || true
  stop_wait redis 20
}

# ---------------------------------------------------------------- kafka
# maven NAME ARGS...: runs mvn on scripts/kafka/pom.xml, output kept in
# $CACHE_DIR/mvn.log and shown only when it fails.
maven() {
  local name="$1"; shift
  mkdir -p "$CACHE_DIR"
  mvn -B -Dstyle.color=never -f "$ROOT/scripts/kafka/pom.xml" "$@" >"$CACHE_DIR/mvn.log" 2>&1 || {
    tail -n 40 "$CACHE_DIR/mvn.log" >&2
    die "$name: mvn $* failed (full output in $CACHE_DIR/mvn.log)"
  }
}

kafka_fetch() {
  if ! ls "$KAFKA_LIBS"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 \
     || ! ls "$KAFKA_LIBS"/log4j-core-*.jar >/dev/null 2>&1; then
    command -v mvn >/dev/null || die "kafka: Maven (mvn) is needed to fetch the Kafka jars (apt-get install maven)"
    say "kafka: fetching Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
    maven "kafka" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIBS"
  fi
}

kafka_java() {
  local home="$KAFKA_JAVA_HOME"
  [ -n "$home" ] || home="$(find_jdk 17 21 25)" || die "kafka: no JDK 17/21/25 in /usr/lib/jvm (set PRISM_KAFKA_JAVA_HOME)"
  echo "$home/bin/java"
}

kafka_ready() {
  port_open "$KAFKA_PORT" && { [ -z "$KAFKA_SASL_PORT" ] || port_open "$KAFKA_SASL_PORT"; } \
    && grep -q 'Kafka Server started' "$SD/kafka/kafka.log"
}

kafka_tls_dir() { echo "$SD/kafka/tls"; }

# kafka_tls: a CA and a broker certificate for 127.0.0.1 and localhost
# (EC P-256, ten years), generated once with openssl into $SD/kafka/tls:
# ca.pem (what clients trust: PRISM_KAFKA_SASL_CA_FILE) and broker.pem (the
# broker's PKCS#8 key followed by its certificate, Kafka's PEM keystore).
kafka_tls() {
  local d
  d="$(kafka_tls_dir)"
  [ -s "$d/ca.pem" ] && [ -s "$d/broker.pem" ] && return 0
  command -v openssl >/dev/null || die "kafka: openssl is needed for the SASL_SSL listener's certificates (apt-get install openssl, or PRISM_KAFKA_SASL_PORT= to turn the listener off)"
  say "kafka: generating a CA and a broker certificate in $d"
  rm -rf "$d" && mkdir -p "$d" && chmod 700 "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=Prism test CA" -keyout ca.key -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=127.0.0.1" -keyout broker.key -out broker.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile broker.ext -out broker.crt
    openssl pkcs8 -topk8 -nocrypt -in broker.key -out broker.p8
    cat broker.p8 broker.crt >broker.pem
    rm -f broker.csr broker.ext broker.key broker.p8 ca.srl
  ) >"$SD/kafka/tls.log" 2>&1 || { cat "$SD/kafka/tls.log" >&2; rm -rf "$d"; die "kafka: openssl failed (output above)"; }
  # broker.pem is readable by all: the Kafka container runs as its own
  # user (a throwaway key for 127.0.0.1); the CA's key is not.
  chmod 755 "$d"; chmod 644 "$d/ca.pem" "$d/broker.crt" "$d/broker.pem"; chmod 600 "$d/ca.key"
}

# kafka_scram_config: the --add-scram argument of the storage format, the
# SCRAM-SHA-512 credentials of $KAFKA_SCRAM_USER.
kafka_scram_config() { echo "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]"; }

# kafka_scram_upsert JAVA CP: gives $KAFKA_SCRAM_USER its password on a
# storage formatted without it (before the SASL listener existed, or with
# another password), through the PLAINTEXT listener (kafka-configs);
# remembered in $SD/kafka/scram.done so later starts skip it.
kafka_scram_upsert() {
  local java="$1" cp="$2" dir="$SD/kafka" want
  want="$(kafka_scram_config)"
  [ "$(cat "$dir/scram.done" 2>/dev/null)" = "$want" ] && return 0
  say "kafka: setting the SCRAM-SHA-512 password of $KAFKA_SCRAM_USER"
  "$java" "-Dlog4j2.configurationFile=file:$dir/log4j2.xml" -cp "$cp" kafka.admin.ConfigCommand \
    --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$KAFKA_SCRAM_USER" \
    --add-config "SCRAM-SHA-512=[password=$KAFKA_SCRAM_PASSWORD]" >"$dir/scram.log" 2>&1 \
    || { cat "$dir/scram.log" >&2; fail_service kafka "could not set the SCRAM credentials of $KAFKA_SCRAM_USER"; }
  (umask 077; echo "$want" >"$dir/scram.done")
}

up_kafka() {
  if pid_alive kafka; then
    wait_until kafka kafka_ready
    say "kafka already running (pid $(head -n 1 "$(pid_file kafka)")) at $(service_url kafka)"
    return 0
  fi
  check_port_free kafka "$KAFKA_PORT"
  check_port_free kafka "$KAFKA_CONTROLLER_PORT"
  [ -z "$KAFKA_SASL_PORT" ] || check_port_free kafka "$KAFKA_SASL_PORT"
  kafka_fetch
  local java dir="$SD/kafka"
  java="$(kafka_java)"
  mkdir -p "$dir/data"
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT" protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT" sasl=""
  if [ -n "$KAFKA_SASL_PORT" ]; then
    kafka_tls
    listeners="$listeners,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT"
    protocols="$protocols,SASL_SSL:SASL_SSL"
    # For clients only: the broker and its controller talk PLAINTEXT. No
    # authorizer: an authenticated user may do everything.
    sasl="listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$(kafka_tls_dir)/broker.pem
listener.name.sasl_ssl.ssl.client.auth=none"
  fi
  cat >"$dir/server.properties" <<EOF
# Written by scripts/services.sh on every start: single node, KRaft, RF 1.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
$sasl
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=$KAFKA_AUTO_CREATE
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A transaction's first produce after the previous transaction's end waits
# for that transaction's markers (transaction version 2 adds partitions
# from the produce itself); the broker retries it after this pause, 20 ms
# by default, which was most of a command's latency (docs/processor.md,
# "Latency").
add.partitions.to.txn.retry.backoff.ms=1
EOF
  cat >"$dir/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/services.sh: everything to stdout (kafka.log). -->
<Configuration status="WARN">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="stdout"/></Root>
  </Loggers>
</Configuration>
EOF
  local cp="$KAFKA_LIBS/*"
  local log4j="-Dlog4j2.configurationFile=file:$dir/log4j2.xml"
  if [ ! -s "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$("$java" "$log4j" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    [ -n "$cluster_id" ] || die "kafka: could not generate a cluster id"
    say "kafka: formatting storage $dir/data (cluster $cluster_id)"
    # The SCRAM user is part of the storage from the start (--add-scram).
    "$java" "$log4j" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/server.properties" --add-scram "$(kafka_scram_config)" >"$dir/format.log" 2>&1 \
      || { cat "$dir/format.log" >&2; die "kafka: storage format failed"; }
    (umask 077; kafka_scram_config >"$dir/scram.done")
  fi
  [ -f "$dir/kafka.log" ] && mv -f "$dir/kafka.log" "$dir/kafka.log.1"
  say "kafka: starting on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT) with $java"
  (
    cd "$dir"
    exec setsid "$java" -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" $KAFKA_GC_OPTS \
      -Djava.awt.headless=true "$log4j" -Dkafka.logs.dir="$dir" \
      -cp "$cp" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 </dev/null 9>&-
  ) &
  echo $! >"$(pid_file kafka)"
  wait_until kafka kafka_ready
  [ -z "$KAFKA_SASL_PORT" ] || kafka_scram_upsert "$java" "$cp"
  say "kafka ready at $(service_url kafka)${KAFKA_SASL_PORT:+, SASL_SSL (SCRAM-SHA-512, user $KAFKA_SCRAM_USER) at 127.0.0.1:$KAFKA_SASL_PORT}"
}

down_kafka() {
  pid_alive kafka || { rm -f "$(pid_file kafka)"; say "kafka not running (nothing to stop)"; return 0; }
  say "kafka: stopping"
  kill "$(head -n 1 "$(pid_file kafka)")" 2>/dev/null || true
  stop_wait kafka 60
}

# ---------------------------------------------------------------- elasticsearch
es_fetch() {
  if [ ! -s "$ES_ZIP" ]; then
    command -v mvn >/dev/null || die "elasticsearch: Maven (mvn) is needed to fetch the zip (apt-get install maven)"
    say "elasticsearch: fetching the $ES_VERSION integ-test-zip from Maven Central into $(dirname "$ES_ZIP")"
    maven "elasticsearch" dependency:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$(dirname "$ES_ZIP")"
  fi
}

es_java_home() {
  local home="$ES_JAVA_HOME_SETTING"
  [ -n "$home" ] || home="$(find_jdk 21 17 25)" || die "elasticsearch: no JDK 17/21/25 in /usr/lib/jvm (set PRISM_ES_JAVA_HOME)"
  echo "$home"
}

es_user() { if is_root; then echo "$ES_USER"; else id -un; fi; }

es_ready() {
  curl -fsS -m 5 "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=4s" \
    | grep -Eq '"status":"(green|yellow)"'
}

up_elasticsearch() {
  if pid_alive elasticsearch; then
    wait_until elasticsearch es_ready
    say "elasticsearch already running (pid $(head -n 1 "$(pid_file elasticsearch)")) at $(service_url elasticsearch)"
    return 0
  fi
  check_port_free elasticsearch "$ES_PORT"
  check_port_free elasticsearch "$ES_TRANSPORT_PORT"
  es_fetch
  local user dir="$SD/elasticsearch" home java_home
  user="$(es_user)"
  if is_root && ! id "$user" >/dev/null 2>&1; then
    say "elasticsearch: creating system user $user (Elasticsearch refuses to run as root)"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  home="$dir/elasticsearch-$ES_VERSION"
  if [ ! -x "$home/bin/elasticsearch" ]; then
    say "elasticsearch: unpacking $ES_ZIP"
    rm -rf "$home"
    mkdir -p "$dir"
    unzip -q "$ES_ZIP" -d "$dir" || die "elasticsearch: unzip failed"
  fi
  mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
  if [ ! -d "$dir/config" ]; then cp -r "$home/config" "$dir/config"; fi
  mkdir -p "$dir/config/jvm.options.d"
  cat >"$dir/config/elasticsearch.yml" <<EOF
# Written by scripts/services.sh on every start.
cluster.name: prism
node.name: prism-es
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
path.data: $dir/data
path.logs: $dir/logs
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
EOF
  printf -- '-Xms%s\n-Xmx%s\n' "$ES_HEAP" "$ES_HEAP" >"$dir/config/jvm.options.d/prism-heap.options"
  if is_root; then chown -R "$user" "$dir"; fi
  java_home="$(es_java_home)"
  rm -f "$(pid_file elasticsearch)"
  [ -f "$dir/logs/prism.log" ] && mv -f "$dir/logs/prism.log" "$dir/logs/prism.log.1"
  say "elasticsearch: starting on 127.0.0.1:$ES_PORT as $user with $java_home"
  # -d daemonizes; -p writes the pid file (owned by $user, copied into ours).
  as_user "$user" env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$dir/config" ES_TMPDIR="$dir/tmp" \
    "$home/bin/elasticsearch" -d -p "$dir/es.pid" >"$dir/start.log" 2>&1 9>&- \
    || { tail -n 40 "$dir/start.log" >&2; fail_service elasticsearch "bin/elasticsearch -d failed (output above, from $dir/start.log)"; }
  local deadline=$((SECONDS + 30))
  until [ -s "$dir/es.pid" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
  [ -s "$dir/es.pid" ] || fail_service elasticsearch "no pid file after start"
  cp "$dir/es.pid" "$(pid_file elasticsearch)"
  wait_until elasticsearch es_ready
  say "elasticsearch ready at $(service_url elasticsearch)"
}

down_elasticsearch() {
  pid_alive elasticsearch || { rm -f "$(pid_file elasticsearch)"; say "elasticsearch not running (nothing to stop)"; return 0; }
  say "elasticsearch: stopping"
  kill "$(head -n 1 "$(pid_file elasticsearch)")" 2>/dev/null || true
  stop_wait elasticsearch 60
}

# stop_wait NAME SECONDS: waits for the process to exit, then SIGKILLs it.
stop_wait() {
  local name="$1" limit="$2" pid
  pid="$(head -n 1 "$(pid_file "$name")" 2>/dev/null || true)"
  local deadline=$((SECONDS + limit))
  while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      err "$name: still running after ${limit}s, sending SIGKILL to $pid"
      kill -9 "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.3
  done
  rm -f "$(pid_file "$name")"
}

# ---------------------------------------------------------------- status/logs
status_native() {
  local s rc=0
  for s in "$@"; do
    if pid_alive "$s"; then
      printf '%-14s running  pid %-8s %s\n' "$s" "$(head -n 1 "$(pid_file "$s")")" "$(service_url "$s")"
    elif port_open "$(service_port "$s")"; then
      printf '%-14s foreign  port %s is held by a process this script did not start\n' "$s" "$(service_port "$s")"
      rc=1
    else
      printf '%-14s stopped\n' "$s"
      rc=1
    fi
  done
  return $rc
}

logs_native() {
  local s log
  for s in "$@"; do
    log="$(service_log "$s")"
    printf -- '==== %s: %s ====\n' "$s" "$log"
    if [ -f "$log" ]; then tail -n "${PRISM_LOG_LINES:-50}" "$log"; else echo "(no log yet)"; fi
  done
}

print_env() {
  cat <<EOF
export PRISM_KAFKA_BROKERS=$(service_url kafka)
export PRISM_POSTGRES_URL='$(service_url postgres)'
export PRISM_REDIS_URL=$(service_url redis)
export PRISM_ELASTICSEARCH_URL=$(service_url elasticsearch)
EOF
  # The SASL_SSL listener, for the tests (integration/secure_*_test.go).
  # No prism flag reads these names: exporting them changes no command.
  if [ -n "$KAFKA_SASL_PORT" ]; then
    cat <<EOF
export PRISM_KAFKA_SASL_BROKERS=127.0.0.1:$KAFKA_SASL_PORT
export PRISM_KAFKA_SASL_CA_FILE=$(kafka_tls_dir)/ca.pem
export PRISM_KAFKA_SCRAM_USER=$KAFKA_SCRAM_USER
export PRISM_KAFKA_SCRAM_PASSWORD=$KAFKA_SCRAM_PASSWORD
EOF
  fi
}

# ---------------------------------------------------------------- docker path
docker_answers() { command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; }

use_docker() {
  case "$MODE" in
    native) return 1 ;;
    docker) docker_answers || die "PRISM_SERVICES_MODE=docker but no Docker engine answers"; return 0 ;;
    auto) docker_answers ;;
    *) die "PRISM_SERVICES_MODE must be auto, native or docker (got $MODE)" ;;
  esac
}

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f "$COMPOSE_FILE" "$@"
  elif command -v docker-compose >/dev/null; then
    docker-compose -f "$COMPOSE_FILE" "$@"
  else
    die "a Docker engine answers but neither \`docker compose\` nor docker-compose is installed (or set PRISM_SERVICES_MODE=native)"
  fi
}


# ---------------------------------------------------------------- main
usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

main() {
  local cmd="${1:-}"
  [ -n "$cmd" ] || usage
  shift
  local services=("$@") s
  [ ${#services[@]} -gt 0 ] || services=("${ALL_SERVICES[@]}")
  for s in "${services[@]}"; do
    case "$s" in postgres|redis|kafka|elasticsearch) ;; *) die "unknown service $s (postgres redis kafka elasticsearch)" ;; esac
  done
  case "$cmd" in up|down|status|logs|env) ;; -h|--help|help) usage ;; *) die "unknown command $cmd" ;; esac
  if [ "$cmd" = env ]; then print_env; return 0; fi

  if use_docker; then
    local names=()
    for s in "${services[@]}"; do names+=("$s"); done
    case "$cmd" in
      up)
        local with_kafka=0
        for s in "${names[@]}"; do [ "$s" = kafka ] && with_kafka=1; done
        # The SASL_SSL listener: the certificates are made here and mounted
        # (docker-compose.kafka.yml), the SCRAM user is added once the
        # broker is up (the image formats the storage itself).
        if [ "$with_kafka" = 1 ]; then
          [ -n "$KAFKA_SASL_PORT" ] || die "PRISM_KAFKA_SASL_PORT is empty: with Docker the SASL_SSL listener is always started (set another port instead)"
          mkdir -p "$SD/kafka" && kafka_tls
          export PRISM_KAFKA_TLS_DIR PRISM_KAFKA_SASL_PORT="$KAFKA_SASL_PORT"
          PRISM_KAFKA_TLS_DIR="$(kafka_tls_dir)"
        fi
        say "Docker engine found: docker compose up"; compose up -d --wait "${names[@]}" || { compose logs --tail 40 "${names[@]}" >&2; die "docker compose up failed"; }
        if [ "$with_kafka" = 1 ]; then
          compose exec -T kafka /opt/kafka/bin/kafka-configs.sh --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter \
            --entity-type users --entity-name "$KAFKA_SCRAM_USER" --add-config "SCRAM-SHA-512=[password=$KAFKA_SCRAM_PASSWORD]" >/dev/null \
            || die "kafka: could not set the SCRAM credentials of $KAFKA_SCRAM_USER (docker compose exec kafka kafka-configs.sh)"
        fi
        ;;
      down) compose down ;;
      status) compose ps "${names[@]}" ;;
      logs) compose logs --tail "${PRISM_LOG_LINES:-50}" "${names[@]}" ;;
    esac
    return
  fi

  mkdir -p "$RUN"
  case "$cmd" in
    status) status_native "${services[@]}"; return ;;
    logs) logs_native "${services[@]}"; return ;;
  esac
  # One up/down at a time: several engineers (and test runs) share the machine.
  exec 9>"$RUN/services.lock"
  if ! flock -w "$((TIMEOUT * 4))" 9; then die "another services.sh holds $RUN/services.lock"; fi
  case "$cmd" in
    up)
      local start=$SECONDS
      for s in "${services[@]}"; do "up_$s"; done
      say "all up in $((SECONDS - start))s: ${services[*]}"
      ;;
    down)
      for ((i = ${#services[@]} - 1; i >= 0; i--)); do "down_${services[$i]}"; done
      ;;
  esac
}

main "$@"
