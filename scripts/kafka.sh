#!/usr/bin/env bash
# A real single-node Apache Kafka 4.x broker (KRaft: broker and controller in
# one JVM) on 127.0.0.1, for the tests and for local use.
#
#   scripts/kafka.sh start    resolve the jars (once), format storage (once), start, wait until ready
#   scripts/kafka.sh stop     stop it (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh status   exit 0 and say so if it is running and answering
#   scripts/kafka.sh reset    stop it and delete its data
#
# Environment:
#   AUDITFED_KAFKA_PORT       client port (default 9092); the controller listens on PORT+1
#   AUDITFED_KAFKA_DIR        jars, data and logs (default <repo>/.cache/kafka, git-ignored)
#   AUDITFED_KAFKA_HEAP       JVM heap (default 768m)
#   JAVA_HOME                 the Java 17+ to use (default: java on PATH)
#
# The jars come from Maven Central through scripts/kafka/pom.xml and `mvn`;
# the Kafka version is pinned there. The docker compose equivalent for users
# is in docs/kafka.md (not used by the tests).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${AUDITFED_KAFKA_PORT:-9092}"
controller_port=$((port + 1))
dir="${AUDITFED_KAFKA_DIR:-$repo/.cache/kafka}"
libs="$dir/libs"
data="$dir/data-$port"
logs="$dir/logs-$port"
pidfile="$dir/kafka-$port.pid"
config="$dir/server-$port.properties"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"

say() { echo "kafka.sh: $*" >&2; }

running_pid() {
    [[ -f "$pidfile" ]] || return 1
    local pid
    pid="$(cat "$pidfile")"
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

resolve_jars() {
    # The stamp is the pom's hash: a changed Kafka version re-resolves.
    local stamp
    stamp="$(sha256sum "$repo/scripts/kafka/pom.xml" | cut -c1-16)"
    if [[ -f "$libs/.stamp" && "$(cat "$libs/.stamp")" == "$stamp" ]]; then
        return
    fi
    command -v mvn >/dev/null || { say "mvn (Apache Maven) is needed to fetch Kafka's jars"; exit 1; }
    say "resolving Kafka's jars with mvn into $libs"
    rm -rf "$libs"
    mvn -q -B -f "$repo/scripts/kafka/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$libs" -DincludeScope=runtime
    echo "$stamp" >"$libs/.stamp"
}

write_config() {
    mkdir -p "$data" "$logs"
    cat >"$config" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
# Fast fencing and failover in tests; production brokers keep their defaults.
transaction.abort.timed.out.transaction.cleanup.interval.ms=5000
group.consumer.session.timeout.ms=10000
group.consumer.min.session.timeout.ms=6000
auto.create.topics.enable=false
EOF
    cat >"$dir/log4j2-$port.yaml" <<EOF
Configuration:
  Appenders:
    File:
      name: file
      fileName: "$logs/server.log"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: file
EOF
}

classpath() { echo "$libs/*"; }

ready() {
    # A metadata round trip through Kafka's own admin tool: the port answering is not enough.
    "$java" -cp "$(classpath)" -Dlog4j2.configurationFile="$dir/log4j2-$port.yaml" \
        org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" --list \
        >/dev/null 2>&1
}

start() {
    if pid="$(running_pid)"; then
        say "already running (pid $pid) on 127.0.0.1:$port"
        return
    fi
    command -v "$java" >/dev/null || { say "java (17 or newer) is needed: install a JDK or set JAVA_HOME"; exit 1; }
    mkdir -p "$dir"
    resolve_jars
    write_config
    if [[ ! -f "$data/meta.properties" ]]; then
        local id
        id="$("$java" -cp "$(classpath)" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
        say "formatting storage in $data (cluster id $id)"
        "$java" -cp "$(classpath)" -Dlog4j2.configurationFile="$dir/log4j2-$port.yaml" \
            kafka.tools.StorageTool format -t "$id" -c "$config" >"$logs/format.log" 2>&1 \
            || { cat "$logs/format.log" >&2; exit 1; }
    fi
    say "starting on 127.0.0.1:$port (logs in $logs)"
    nohup "$java" -Xmx"${AUDITFED_KAFKA_HEAP:-768m}" -Xms256m -XX:+UseG1GC \
        -Dlog4j2.configurationFile="$dir/log4j2-$port.yaml" \
        -cp "$(classpath)" kafka.Kafka "$config" >"$logs/stdout.log" 2>&1 &
    echo $! >"$pidfile"
    local deadline=$((SECONDS + 90))
    until ready; do
        if ! running_pid >/dev/null; then
            say "the broker exited; last lines of $logs:"
            tail -20 "$logs/stdout.log" "$logs/server.log" >&2 || true
            exit 1
        fi
        if ((SECONDS > deadline)); then
            say "not ready after 90 s; see $logs"
            exit 1
        fi
        sleep 1
    done
    say "ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        say "not running"
        rm -f "$pidfile"
        return
    fi
    kill "$pid"
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "still running after 30 s: SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
    if pid="$(running_pid)" && ready; then
        say "running (pid $pid) and answering on 127.0.0.1:$port"
    elif running_pid >/dev/null; then
        say "process running but not answering on 127.0.0.1:$port"
        exit 1
    else
        say "not running"
        exit 3
    fi
    ;;
reset)
    stop
    rm -rf "$data" "$logs"
    say "data deleted"
    ;;
*)
    echo "usage: $0 start|stop|status|reset" >&2
    exit 2
    ;;
esac
