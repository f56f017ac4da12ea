#!/usr/bin/env bash
# perf.sh — one run of every figure in the README's "Performance" table, on this machine, for
# this checkout ("now") and an older commit ("before"), then the table itself:
#
#	testdata/perf/perf.sh [BEFORE_COMMIT]     (default 484f060: the code before issue 10)
#
# It takes about 20 minutes on 2 cores: the scale runs (100,000 tasks for this checkout), the slash-command
# load runs, the reconciliation benchmark and the cron + curl + jq baseline. Everything runs on
# loopback against the fakes the tests start. Logs and the table stay in $PERF_OUT (default a
# new temporary directory). Needs go, git, and for the cron baseline curl and jq.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
before=${1:-484f060}
out=${PERF_OUT:-$(mktemp -d)}
mkdir -p "$out/before-src"
echo "logs in $out" >&2

# Both built as the Dockerfile builds taskbot: static, without cgo and the symbol table.
build() { CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1" .; }
git archive "$before" | tar -x -C "$out/before-src"
(cd "$out/before-src" && build "$out/taskbot-before")
build "$out/taskbot-now"

# A run's assertions may fail for the older build (its quiet polls are not one request): the
# figures are in the log all the same, so a failure is reported and the script goes on.
run() {
	local log=$1
	shift
	echo "$(date -u +%H:%M:%S) $log" >&2
	"$@" >"$out/$log" 2>&1 || echo "  (it failed: see $out/$log)" >&2
}
sizes=${PERF_SIZES:-1000,10000,100000}
# The build before issue 10 never gets to a reconciliation at 100,000 tasks (each of its polls
# lists the whole burst again, 1,000 requests): it is run at the smaller sizes only.
before_sizes=${PERF_BEFORE_SIZES:-1000,10000}
for build in before now; do
	if [ "$build" = before ]; then scale_sizes=$before_sizes; else scale_sizes=$sizes; fi
	run "scale-$build.log" env TASKBOT_SCALE=1 TASKBOT_SCALE_SIZES="$scale_sizes" TASKBOT_SCALE_BIN="$out/taskbot-$build" \
		go test -run 'TestScale$' -v -count=1 -timeout 80m .
	for delay in 0s 2s; do
		run "load-$build-$delay.log" env TASKBOT_LOAD=1 TASKBOT_LOAD_API_DELAY=$delay TASKBOT_LOAD_BIN="$out/taskbot-$build" \
			go test -run 'TestSlashCommandLoad$' -v -count=1 .
	done
done
run bench-reconcile.log go test -run '^$' -bench 'Reconcile' -benchtime 3x -count 3 ./tasks/announce/
run cron.log env TASKBOT_BASELINE=1 TASKBOT_BASELINE_TASKS="$sizes" TASKBOT_BASELINE_RUNS=1 \
	go test -run 'TestCronBaselineTimes$' -v -count=1 -timeout 60m ./tasks/taskstest/

{
	echo "Measured $(date -u +%Y-%m-%d) with \`testdata/perf/perf.sh $before\` at commit $(git rev-parse --short HEAD):"
	echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	go run ./testdata/perf/table.go "$out" "$before"
} | tee "$out/table.md"
