#!/usr/bin/env bash
# bench.sh — the spawn-core benchmarks, side by side in one run, pinned
# (taskset -c 0) and unpinned, then a table of medians and the targets of
# issue 2 marked met or missed. Called by `make bench` (which builds the C
# harness first); it also works on its own.
#
# Methods: C/posix_spawn (glibc, the reference), C/vfork, C/clone_vm (an
# aspawn-like clone(CLONE_VM) on a reused stack, blocking read on a
# close-on-exec pipe), C/fork; Spawn/*/spawn (spawn.Start + Wait),
# spawnAsync (StartAsync, <-Started, Wait), osexec (exec.Command().Run()),
# forkexec (syscall.ForkExec + Wait4). Children: bin/bench/nop (static, no
# libc: exit_group(0)) and /bin/true (glibc start-up ~0.5 ms here).
#
# Each round runs every group once in every mode, interleaved, so slow
# drifts of the machine hit all methods alike. Unpinned runs on this VM are
# bimodal (the child lands on either vCPU), so the tables show the median
# over rounds and, for unpinned, the [min–max] of the round values.
#
# Knobs (environment):
#   BENCH_ROUNDS  rounds (default 5)
#   BENCH_TIME    Go -benchtime per benchmark and round (default 0.3s)
#   BENCH_MODES   modes to run (default "pinned unpinned")
#   BENCH_GO      Go -bench regexp (default ^BenchmarkSpawn)
#   BENCH_GROUPS  groups to run (default "spawn_c spawn_go sandbox_peers")
#   BENCH_OUT     output directory (default bench/out/<date-time>)
#
# Output: $OUT/results.tsv has one row per measurement and round
# (mode, bench, metric, value); $OUT/stats.tsv the medians; $OUT/raw/ the
# raw outputs; the summary is printed and saved as $OUT/summary.txt.
#
# Adding peers (bwrap, crun, runc… for the sandbox-level benchmarks of
# later issues): write a group_<name> function that runs its commands under
# "${RUN[@]}" and records each number with `emit BENCH METRIC VALUE`, add
# <name> to BENCH_GROUPS, and add its rows to the report (report_<name>) and its
# targets (`target …`) in the report section.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=/usr/local/go/bin:$PATH

ROUNDS=${BENCH_ROUNDS:-5}
BENCHTIME=${BENCH_TIME:-0.3s}
MODES=(${BENCH_MODES:-pinned unpinned})
GOBENCH=${BENCH_GO:-^BenchmarkSpawn}
OUT=${BENCH_OUT:-bench/out/$(date +%Y%m%d-%H%M%S)}
BINDIR=$ROOT/bin/bench
NOP=$BINDIR/nop
SPAWNBENCH=$BINDIR/spawnbench
TESTBIN=$BINDIR/spawn.test

read -ra BENCH_GROUPS <<<"${BENCH_GROUPS:-spawn_c spawn_go sandbox_peers}"

mkdir -p "$OUT/raw"
RESULTS=$OUT/results.tsv
: >"$RESULTS"

log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- build ---

build() {
	command -v gcc >/dev/null || { log "bench: gcc is needed (make deps installs it)"; exit 1; }
	command -v taskset >/dev/null || { log "bench: taskset (util-linux) is needed"; exit 1; }
	make -s -C bench/c OUT="$BINDIR" >/dev/null
	go test -c -o "$TESTBIN" ./spawn/
}

# ---------------------------------------------------------------- modes ---

# set_mode MODE sets RUN, the command prefix of every measured command.
set_mode() {
	MODE=$1
	case $MODE in
	pinned) RUN=(taskset -c 0) ;;
	unpinned) RUN=() ;;
	*) log "bench: unknown mode $MODE"; exit 2 ;;
	esac
}

# emit BENCH METRIC VALUE records one measurement of the current mode.
emit() { printf '%s\t%s\t%s\t%s\n' "$MODE" "$1" "$2" "$3" >>"$RESULTS"; }

# ------------------------------------------------- group: C references ---

# c_run NAME ARGS… runs spawnbench and records its numbers as C/NAME.
c_run() {
	local name=$1 line
	shift
	line=$("${RUN[@]}" "$SPAWNBENCH" "$@")
	echo "$MODE $ROUND $line" >>"$OUT/raw/c.txt"
	local kv k v
	for kv in $line; do
		k=${kv%%=*} v=${kv#*=}
		case $k in
		p50_us) emit "C/$name" p50-µs "$v" ;;
		p90_us) emit "C/$name" p90-µs "$v" ;;
		mean_us) emit "C/$name" mean-µs "$v" ;;
		cpu_us) emit "C/$name" parent-cpu-µs/op "$v" ;;
		rate) emit "C/$name" spawns/s "$v" ;;
		esac
	done
}

group_spawn_c() {
	c_run posix_spawn/static -m posix_spawn -n 3000 "$NOP"
	c_run vfork/static -m vfork -n 3000 "$NOP"
	c_run clone_vm/static -m clone_vm -n 3000 "$NOP"
	c_run fork/static -m fork -n 1000 "$NOP"
	c_run posix_spawn/true -m posix_spawn -n 400 -w 20 /bin/true
	c_run vfork/true -m vfork -n 400 -w 20 /bin/true
	c_run posix_spawn/static/k=2 -m posix_spawn -k 2 -n 4000 "$NOP"
	c_run posix_spawn/static/k=8 -m posix_spawn -k 8 -n 4000 "$NOP"
}

# ------------------------------------------------ group: Go benchmarks ---

group_spawn_go() {
	local raw=$OUT/raw/go-$MODE-$ROUND.txt
	if ! (cd spawn && SANDBOX_BENCH_NOP=$NOP "${RUN[@]}" "$TESTBIN" -test.run '^$' \
		-test.bench "$GOBENCH" -test.benchtime "$BENCHTIME" -test.count 1 -test.v=false) >"$raw" 2>&1; then
		cat "$raw" >&2
		log "bench: go benchmarks failed ($MODE, round $ROUND); output above and in $raw"
		exit 1
	fi
	if grep -q -- '--- SKIP' "$raw"; then
		log "bench: some Go benchmarks skipped ($MODE):"
		grep -A2 -- '--- SKIP' "$raw" >&2 || true
	fi
	# BenchmarkSpawn/static/spawn-2  N  61234 ns/op  53.7 p50-µs  …
	local name n rest val unit
	while read -r name n rest; do
		[[ $name == Benchmark* && $n =~ ^[0-9]+$ ]] || continue
		name=${name#Benchmark}
		name=${name%-[0-9]*}
		set -- $rest
		while (($# >= 2)); do
			val=$1 unit=$2
			shift 2
			if [[ $unit == ns/op ]]; then
				emit "$name" mean-µs "$(awk -v v="$val" 'BEGIN { printf "%.2f", v / 1000 }')"
			else
				emit "$name" "$unit" "$val"
			fi
		done
	done <"$raw"
}

# --------------------------------------- group: sandbox peers (later) ---

# Sandbox-level peers — bwrap, crun, runc, unshare — come with the sandbox
# benchmarks of later issues: run each under "${RUN[@]}", record with
# `emit Peer/<tool>/<case> p50-µs …`, and add rows in report_sandbox_peers.
# hyperfine may be installed here when missing (apt-get install -y
# hyperfine) if a peer is timed as a whole command.
group_sandbox_peers() { :; }

# --------------------------------------------------------------- report ---

# stats writes $OUT/stats.tsv: mode, bench, metric, median, min, max, n.
stats() {
	sort -t$'\t' -k1,1 -k2,2 -k3,3 -k4,4g "$RESULTS" | awk -F'\t' -v OFS='\t' '
		function flush() {
			if (n) print key, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), v[1], v[n], n
			n = 0
		}
		{ k = $1 OFS $2 OFS $3; if (k != key) { flush(); key = k } v[++n] = $4 }
		END { flush() }' >"$OUT/stats.tsv"
}

# get MODE BENCH METRIC [median|min|max] prints one statistic, or nothing.
get() {
	awk -F'\t' -v m="$1" -v b="$2" -v k="$3" -v s="${4:-median}" '
		$1 == m && $2 == b && $3 == k { print (s == "min" ? $5 : s == "max" ? $6 : $4); exit }' "$OUT/stats.tsv"
}

# num formats numbers for tables: 3–4 significant digits, no exponents.
num() {
	awk -v v="$1" 'BEGIN { a = v < 0 ? -v : v
		printf (a >= 1000 ? "%.0f" : a >= 100 ? "%.1f" : a >= 10 ? "%.2f" : "%.3f"), v }'
}

# cell MODE BENCH METRIC prints the median, with [min–max] for unpinned.
cell() {
	local med
	med=$(get "$@")
	if [[ -z $med ]]; then
		printf '%s' -
	elif [[ $1 == unpinned ]]; then
		printf '%s [%s–%s]' "$(num "$med")" "$(num "$(get "$@" min)")" "$(num "$(get "$@" max)")"
	else
		num "$med"
	fi
}

# label shortens a metric name for column headers.
label() {
	case $1 in
	p50-µs) echo p50 ;;
	p90-µs) echo p90 ;;
	mean-µs) echo mean ;;
	parent-cpu-µs/op) echo cpu/op ;;
	*) echo "$1" ;;
	esac
}

# table TITLE METRIC… -- BENCH… prints one row per bench, one column per
# metric and mode.
table() {
	local title=$1 metrics=() benches=() b m mode
	shift
	while (($#)) && [[ $1 != -- ]]; do metrics+=("$1"); shift; done
	shift
	benches=("$@")
	printf '\n== %s\n' "$title"
	{
		printf 'bench'
		for mode in "${MODES[@]}"; do for m in "${metrics[@]}"; do printf '\t%s %s' "$mode" "$(label "$m")"; done; done
		printf '\n'
		for b in "${benches[@]}"; do
			printf '%s' "$b"
			for mode in "${MODES[@]}"; do for m in "${metrics[@]}"; do printf '\t%s' "$(cell "$mode" "$b" "$m")"; done; done
			printf '\n'
		done
	} | align
}

# align lines up tab-separated columns (column(1) is not on every system).
align() {
	awk -F'\t' '
		{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } nf[NR] = NF }
		END {
			for (r = 1; r <= NR; r++) {
				line = ""
				for (i = 1; i <= nf[r]; i++) line = line sprintf(i < nf[r] ? "%-" w[i] + 2 "s" : "%s", c[r, i])
				print line
			}
		}'
}

report_spawn() {
	local c
	for c in static true; do
		table "spawn-to-reap, $c child, sequential (µs: p50 per spawn, mean, parent CPU per spawn)" \
			p50-µs mean-µs parent-cpu-µs/op -- \
			C/vfork/$c C/posix_spawn/$c $([[ $c == static ]] && echo C/clone_vm/$c C/fork/$c) \
			Spawn/$c/spawn Spawn/$c/spawnAsync Spawn/$c/osexec Spawn/$c/forkexec
	done
	table "throughput, static child, G concurrent spawners (spawns/s; parent CPU µs per spawn)" \
		spawns/s parent-cpu-µs/op -- \
		C/posix_spawn/static/k=2 C/posix_spawn/static/k=8 \
		SpawnParallel/{spawn,spawnAsync,osexec}/g={1,2,8,32}
	table "user-namespaced spawn, static child, parent-written id maps (µs)" \
		p50-µs mean-µs parent-cpu-µs/op -- \
		SpawnUserNS/heap={0,1GiB}/{spawn,osexec}
}

report_sandbox_peers() { :; }

# ratio MODE A_BENCH A_METRIC B_BENCH B_METRIC prints A/B, or nothing.
ratio() {
	local a b
	a=$(get "$1" "$2" "$3") b=$(get "$1" "$4" "$5")
	[[ -n $a && -n $b ]] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f", a / b }'
}

# target TEXT OP LIMIT A_BENCH A_METRIC [B_BENCH B_METRIC] prints one target
# line per mode: the value (A, or A/B) and whether it meets OP LIMIT.
target() {
	local text=$1 op=$2 limit=$3 mode v ok line
	shift 3
	line=$(printf '%-40s %2s %-4s' "$text" "$op" "$limit")
	for mode in "${MODES[@]}"; do
		if (($# == 4)); then v=$(ratio "$mode" "$@"); else v=$(get "$mode" "$1" "$2"); fi
		if [[ -z $v ]]; then
			ok="NO DATA"
		elif awk -v v="$v" -v l="$limit" -v op="$op" 'BEGIN { exit !((op == "<=") ? v <= l : v >= l) }'; then
			ok=met
		else
			ok=MISSED
		fi
		line+=$(printf '   %s %7s %-7s' "$mode" "$([[ -n $v ]] && num "$v" || echo -)" "$ok")
	done
	printf '%s\n' "$line"
}

report_targets() {
	printf '\n== targets (issue 2; medians over %s rounds; latency ratios use p50 per spawn)\n' "$ROUNDS"
	target "static: spawn / C posix_spawn" "<=" 1.0 \
		Spawn/static/spawn p50-µs C/posix_spawn/static p50-µs
	target "static: spawn / exec.Command().Run()" "<=" 0.8 \
		Spawn/static/spawn p50-µs Spawn/static/osexec p50-µs
	target "8 goroutines: spawn / os/exec spawns/s" ">=" 1.8 \
		SpawnParallel/spawn/g=8 spawns/s SpawnParallel/osexec/g=8 spawns/s
	target "userns, 1 GiB heap: os/exec / spawn" ">=" 20 \
		SpawnUserNS/heap=1GiB/osexec p50-µs SpawnUserNS/heap=1GiB/spawn p50-µs
	target "parent CPU per spawn, static (us/op)" "<=" 20 \
		Spawn/static/spawn parent-cpu-µs/op
	printf '\n-- for information (not targets)\n'
	target "static, mean: spawn / C posix_spawn" "<=" 1.0 \
		Spawn/static/spawn mean-µs C/posix_spawn/static mean-µs
	target "static, mean: spawn / os/exec" "<=" 0.8 \
		Spawn/static/spawn mean-µs Spawn/static/osexec mean-µs
	target "static: spawnAsync / C posix_spawn" "<=" 1.0 \
		Spawn/static/spawnAsync p50-µs C/posix_spawn/static p50-µs
	target "8 goroutines: spawnAsync / os/exec" ">=" 1.8 \
		SpawnParallel/spawnAsync/g=8 spawns/s SpawnParallel/osexec/g=8 spawns/s
	target "/bin/true: spawn / C posix_spawn" "<=" 1.0 \
		Spawn/true/spawn p50-µs C/posix_spawn/true p50-µs
	target "parent CPU, 8 goroutines (us/op)" "<=" 20 \
		SpawnParallel/spawn/g=8 parent-cpu-µs/op
}

# ------------------------------------------------------------------ main ---

main() {
	local start=$SECONDS g
	log "bench: building the C harness and the spawn test binary"
	build
	{
		echo "spawn benchmarks — $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty')"
		echo "$(uname -sr), $(nproc) CPUs, $(go version | cut -d' ' -f3), rounds=$ROUNDS benchtime=$BENCHTIME modes=${MODES[*]}"
		echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
		echo "pinned = taskset -c 0 (GOMAXPROCS 1); unpinned = all CPUs; static child = $NOP"
	} | tee "$OUT/summary.txt" >&2
	if awk '{ exit !($1 > 1.0) }' /proc/loadavg; then
		log "bench: warning: the machine is busy (load $(cut -d' ' -f1 /proc/loadavg)); other work skews spawn timings"
	fi
	for ROUND in $(seq 1 "$ROUNDS"); do
		for mode in "${MODES[@]}"; do
			set_mode "$mode"
			for g in "${BENCH_GROUPS[@]}"; do
				log "bench: round $ROUND/$ROUNDS, $MODE, $g ($((SECONDS - start)) s)"
				"group_$g"
			done
		done
	done
	stats
	{
		report_spawn
		report_sandbox_peers
		report_targets
		printf '\nload after: %s; %d s; raw results in %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" $((SECONDS - start)) "$OUT"
	} | tee -a "$OUT/summary.txt"
}

main "$@"
