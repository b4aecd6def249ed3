#!/usr/bin/env bash
# Runs the Java reference client (src/main/java/dev/prism/interop/Interop.java)
# with the given arguments. The first run resolves Apache Avro and
# kafka-clients (pom.xml) with Maven, offline first and online when the local
# repository lacks them, and compiles the source with javac into target/;
# later runs reuse target/ until pom.xml or the source changes.
#
#   interop/java/run.sh fingerprints payment/schemas/avro
#   interop/java/run.sh consume --brokers 127.0.0.1:9092 --topic T --schemas payment/schemas/avro --record EventEnvelope
#   interop/java/run.sh produce --brokers 127.0.0.1:9092 --topic T --schemas payment/schemas/avro --payments 10 --prefix p
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="$dir/target"
src="$dir/src/main/java/dev/prism/interop/Interop.java"
stamp="$target/classes/dev/prism/interop/Interop.class"

die() { echo "interop/java: $*" >&2; exit 2; }
command -v java >/dev/null || die "java (JDK 17+) is not on PATH"

# A classpath naming a jar that is gone (another machine's, or a cleaned
# local repository) is resolved again.
stale_classpath() {
  [[ -f "$target/classpath.txt" ]] || return 0
  [[ "$dir/pom.xml" -nt "$target/classpath.txt" ]] && return 0
  local jar
  IFS=: read -r -a jars <"$target/classpath.txt"
  for jar in "${jars[@]}"; do [[ -f "$jar" ]] || return 0; done
  return 1
}

if stale_classpath; then
  command -v mvn >/dev/null || die "mvn (Maven) is not on PATH; it fetches Apache Avro and kafka-clients"
  mkdir -p "$target"
  resolve=(mvn -B -q -Dstyle.color=never -f "$dir/pom.xml"
    org.apache.maven.plugins:maven-dependency-plugin:2.8:build-classpath
    -Dmdep.outputFile="$target/classpath.txt")
  if ! "${resolve[@]}" -o >"$target/mvn.log" 2>&1; then
    "${resolve[@]}" >"$target/mvn.log" 2>&1 || {
      tail -n 30 "$target/mvn.log" >&2
      die "mvn could not resolve the dependencies (full output in $target/mvn.log)"
    }
  fi
fi
cp="$(cat "$target/classpath.txt")"

if [[ ! -f "$stamp" || "$src" -nt "$stamp" || "$target/classpath.txt" -nt "$stamp" ]]; then
  command -v javac >/dev/null || die "javac (JDK 17+) is not on PATH"
  javac -nowarn --release 17 -cp "$cp" -d "$target/classes" "$src" || die "javac failed"
fi

exec java -cp "$target/classes:$cp" dev.prism.interop.Interop "$@"
