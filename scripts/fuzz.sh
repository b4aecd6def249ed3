#!/usr/bin/env bash
# Runs every Go fuzz target of the module, one after the other, each for a
# bounded time (a fuzzing run takes one target).
#
#   scripts/fuzz.sh FUZZTIME [package-dir...]
#
# FUZZTIME is go test's -fuzztime (30s, 1000x). Without packages, every
# package with a `func FuzzX` in a _test.go file is fuzzed. Each package's
# test binary is built once, instrumented for fuzzing (go test -c -fuzz);
# its targets are what `-test.list '^Fuzz'` lists (go test -list); each
# target then runs in the package directory with the corpus go test -fuzz
# keeps in $GOCACHE/fuzz. A target that fails (a crasher, written to the
# package's testdata/fuzz/FuzzX/, where every later `go test` runs it as a
# seed) or a package that does not build does not stop the others: the
# script goes on, lists what failed at the end and exits 1.
#
# GO picks the go command (default: go); FUZZ_FLAGS are extra test binary
# flags (e.g. -test.parallel=1); FUZZ_TIMEOUT bounds one target's run
# (default 30m).
set -uo pipefail

GO=${GO:-go}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-30m}

if [ $# -lt 1 ] || [ -z "$1" ]; then
	echo "usage: $0 FUZZTIME [package-dir...]" >&2
	exit 2
fi
fuzztime=$1
shift

root=$(cd "$(dirname "$0")/.." && pwd) || exit 2
cd "$root" || exit 2

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' --exclude-dir='.?*' --exclude-dir='_*' --exclude-dir=testdata \
		'^func Fuzz' . | xargs -r -n1 dirname | sort -u)
fi
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "fuzz: no package has a fuzz target" >&2
	exit 2
fi
cache=$($GO env GOCACHE)/fuzz
bins=$(mktemp -d) || exit 2
trap 'rm -rf "$bins"' EXIT

# fuzz_one runs one target for $fuzztime; its output also goes to $bins/out.
fuzz_one() {
	local dir=$1 bin=$2 name=$3 importpath=$4
	# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
	(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$fuzztime" \
		-test.fuzzcachedir "$cache/$importpath" -test.timeout "$FUZZ_TIMEOUT" -test.paniconexit0 $FUZZ_FLAGS) 2>&1 |
		tee "$bins/out"
	return "${PIPESTATUS[0]}"
}

failed=()
ran=0
start=$SECONDS
for dir in "${pkgs[@]}"; do
	if ! importpath=$($GO list "./${dir#./}"); then
		failed+=("$dir (not a package)")
		continue
	fi
	bin=$bins/$ran.test
	if ! $GO test -c -fuzz . -o "$bin" "$importpath"; then
		failed+=("$importpath (does not build)")
		continue
	fi
	if ! names=$(cd "$dir" && "$bin" -test.list '^Fuzz'); then
		failed+=("$importpath (cannot list its targets)")
		continue
	fi
	for name in $names; do
		ran=$((ran + 1))
		echo "== $name ($importpath), $fuzztime"
		crashers=$(find "$dir/testdata/fuzz/$name" -type f 2>/dev/null | wc -l)
		if ! fuzz_one "$dir" "$bin" "$name" "$importpath"; then
			# Go's fuzzing engine sometimes fails a run whose time is up
			# with its own "context deadline exceeded" and no input: not a
			# finding (no crasher is written). That case runs once more.
			if grep -qx '    context deadline exceeded' "$bins/out" &&
				[ "$(find "$dir/testdata/fuzz/$name" -type f 2>/dev/null | wc -l)" -eq "$crashers" ]; then
				echo "fuzz: $name: the fuzzing engine's deadline error, no crasher written; once more"
				fuzz_one "$dir" "$bin" "$name" "$importpath" || failed+=("$name ($importpath)")
			else
				failed+=("$name ($importpath)")
			fi
		fi
	done
done

echo "fuzz: $ran targets in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} failed (a crasher is kept in the package's testdata/fuzz/<target>/):"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
if [ $ran -eq 0 ]; then
	echo "fuzz: no fuzz target in ${pkgs[*]}" >&2
	exit 2
fi
echo "fuzz: all passed"
