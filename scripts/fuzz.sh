#!/usr/bin/env bash
# Runs every Go fuzz target of the module, one after the other, each for a
# bounded time (go test -fuzz takes one target per package run).
#
#   scripts/fuzz.sh FUZZTIME [package...]
#
# FUZZTIME is go test's -fuzztime (30s, 1000x). Without packages, every
# package with a `func FuzzX` in a _test.go file is fuzzed. The targets come
# from `go test -list '^Fuzz'`. A target that fails (a crasher, which go test
# writes to the package's testdata/fuzz/FuzzX/ where every later `go test`
# runs it as a seed) does not stop the others: the script goes on, lists
# the failed targets at the end and exits 1. It exits 2 when the targets
# cannot be listed (a package that does not build) or there are none.
#
# GO picks the go command (default: go); FUZZ_FLAGS are extra go test flags
# (e.g. -parallel 1).
set -uo pipefail

GO=${GO:-go}
FUZZ_FLAGS=${FUZZ_FLAGS:-}

if [ $# -lt 1 ] || [ -z "$1" ]; then
	echo "usage: $0 FUZZTIME [package...]" >&2
	exit 2
fi
fuzztime=$1
shift

cd "$(dirname "$0")/.." || exit 2

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' --exclude-dir='.?*' --exclude-dir='_*' --exclude-dir=testdata \
		'^func Fuzz' . | xargs -r -n1 dirname | sort -u)
fi
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "fuzz: no package has a fuzz target" >&2
	exit 2
fi

# go test -list prints a package's matching names, then its "ok <import
# path>" line: the names seen before an ok line are that package's.
if ! listing=$($GO test -count=1 -run '^$' -list '^Fuzz' "${pkgs[@]}" 2>&1); then
	echo "$listing" >&2
	echo "fuzz: cannot list the fuzz targets (see above)" >&2
	exit 2
fi
targets=()
names=()
while IFS= read -r line; do
	case $line in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in "${names[@]}"; do targets+=("$pkg $n"); done
		names=()
		;;
	esac
done <<<"$listing"
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz target in ${pkgs[*]}" >&2
	exit 2
fi

echo "fuzz: ${#targets[@]} targets, $fuzztime each"
failed=()
start=$SECONDS
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "== $name ($pkg)"
	# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
	if ! $GO test -count=1 -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" $FUZZ_FLAGS "$pkg"; then
		failed+=("$name ($pkg)")
	fi
done

echo "fuzz: ${#targets[@]} targets in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} failed (a crasher is kept under the package's testdata/fuzz/<target>/):"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
echo "fuzz: all passed"
