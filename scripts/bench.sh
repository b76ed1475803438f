#!/usr/bin/env bash
# bench.sh — the spawn-core and sandbox-level benchmarks, side by side in one
# run, pinned (taskset -c 0) and unpinned, then tables of medians and the
# targets of issues 2, 3 and 5 marked met or missed. Called by `make bench`
# (which builds the C harness first); it also works on its own.
#
# Groups:
#   spawn_c        C references (bench/c/spawnbench.c): C/posix_spawn (glibc,
#                  the reference), C/vfork, C/clone_vm (an aspawn-like
#                  clone(CLONE_VM) on a reused stack, blocking read on a
#                  close-on-exec pipe), C/fork
#   spawn_go       spawn/bench_test.go: Spawn/*/spawn (spawn.Start + Wait),
#                  spawnAsync (StartAsync, <-Started, Wait), osexec
#                  (exec.Command().Run()), forkexec (syscall.ForkExec + Wait4)
#   sandbox_peers  issue 3: the default sandbox (bench_test.go,
#                  BenchmarkDefaultSandbox/{net,nonet}) against its C floor
#                  (bench/c/sandboxfloor.c: the same setup in C); issue 5:
#                  `sandbox run -- /bin/true` against bwrap, crun run and runc
#                  run of the same sandbox as an OCI bundle (bench/ocibundle),
#                  timed as whole commands by hyperfine, with GNU time's peak
#                  RSS; the library (BenchmarkCommand/{sandbox,osexec})
#   seccomp        issue 4: the default profile's compile (embedded, cached,
#                  and a cold libseccomp compile), the parent's cost of
#                  adding it to a program, spawn-to-exit of /bin/true with
#                  and without it, BPF instructions run per syscall
# Children: bin/bench/nop (static, no libc: exit_group(0)) and /bin/true
# (glibc start-up ~0.5 ms here).
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
#   BENCH_GO      Go -bench regexp of spawn_go (default ^BenchmarkSpawn)
#   BENCH_SANDBOX_GO  Go -bench regexp of sandbox_peers (default
#                 ^Benchmark(DefaultSandbox|Command)$)
#   BENCH_PEER_RUNS   hyperfine runs per peer, mode and round (default 30)
#   BENCH_GROUPS  groups to run (default "spawn_c spawn_go sandbox_peers
#                 seccomp")
#   BENCH_OUT     output directory (default bench/out/<date-time>)
#   BENCH_REPORT  an earlier run's output directory: print its report
#                 again (with this script's rows and targets), run nothing
#
# The peers need hyperfine, bwrap, crun, runc and GNU time; missing ones are
# installed with apt-get when running as root, else their rows stay empty.
# crun 1.8.1 refuses this host's hybrid cgroup layout ("cgroups in hybrid
# mode not supported"), so it runs in a private mount namespace with
# /sys/fs/cgroup/unified unmounted (unshare -m; the host is untouched);
# runc runs as it is, cgroups included.
#
# Output: $OUT/results.tsv has one row per measurement and round
# (mode, bench, metric, value); $OUT/stats.tsv the medians; $OUT/raw/ the
# raw outputs; the summary is printed and saved as $OUT/summary.txt.
#
# Adding a group: write a group_<name> function that runs its commands under
# "${RUN[@]}" and records each number with `emit BENCH METRIC VALUE`, add
# <name> to BENCH_GROUPS, and add its rows to the report (report_<name>) and
# its targets (`target …`) in the report section.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=/usr/local/go/bin:$PATH

ROUNDS=${BENCH_ROUNDS:-5}
BENCHTIME=${BENCH_TIME:-0.3s}
MODES=(${BENCH_MODES:-pinned unpinned})
GOBENCH=${BENCH_GO:-^BenchmarkSpawn}
OUT=${BENCH_REPORT:-${BENCH_OUT:-bench/out/$(date +%Y%m%d-%H%M%S)}}
BINDIR=$ROOT/bin/bench
NOP=$BINDIR/nop
SPAWNBENCH=$BINDIR/spawnbench
TESTBIN=$BINDIR/spawn.test
FLOOR=$BINDIR/sandboxfloor
SANDBOX=$BINDIR/sandbox
SANDBOXTEST=$BINDIR/sandbox.test
SANDBOXGO=${BENCH_SANDBOX_GO:-'^Benchmark(DefaultSandbox|Command)$'}
SECCOMPTEST=$BINDIR/seccomp.test
SECCOMPGO='^Benchmark(CompileCold|CompileCached|CompileLibseccomp|Install|InstallNone|SpawnDefaultProfile|SpawnNoFilter|FilterInstructions)$'
PEER_RUNS=${BENCH_PEER_RUNS:-30}

read -ra BENCH_GROUPS <<<"${BENCH_GROUPS:-spawn_c spawn_go sandbox_peers seccomp}"

mkdir -p "$OUT/raw"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.tsv
BUNDLE=$OUT/bundle
[[ -n ${BENCH_REPORT:-} ]] || : >"$RESULTS"

log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- build ---

build() {
	command -v gcc >/dev/null || { log "bench: gcc is needed (make deps installs it)"; exit 1; }
	command -v taskset >/dev/null || { log "bench: taskset (util-linux) is needed"; exit 1; }
	make -s -C bench/c OUT="$BINDIR" >/dev/null
	go test -c -o "$TESTBIN" ./spawn/
	if has_group seccomp; then
		go test -c -o "$SECCOMPTEST" ./seccomp # cgo and libseccomp (make deps)
	fi
	if has_group sandbox_peers; then
		peer_tools
		# The CLI as `make build` ships it: static, no cgo (the default
		# filter is precompiled for amd64). Ablations: the same CLI linked
		# with libseccomp through cgo, and the empty Go program (the floor
		# of a Go CLI).
		CGO_ENABLED=0 go build -o "$SANDBOX" ./cmd/sandbox
		go build -o "$SANDBOX-cgo" ./cmd/sandbox || rm -f "$SANDBOX-cgo"
		CGO_ENABLED=0 go build -o "$BINDIR/goempty" ./bench/goempty
		go test -c -o "$SANDBOXTEST" .
		# The OCI bundle crun and runc run: the default sandbox's spec.
		go run ./bench/ocibundle "$BUNDLE" /bin/true
	fi
}

has_group() { [[ " ${BENCH_GROUPS[*]} " == *" $1 "* ]]; }

# peer_tools installs the peers' tools that are missing (as root), once.
peer_tools() {
	local want=() t pkg
	for t in hyperfine:hyperfine bwrap:bubblewrap crun:crun runc:runc /usr/bin/time:time; do
		command -v "${t%%:*}" >/dev/null || want+=("${t#*:}")
	done
	((${#want[@]})) || return 0
	if [[ $(id -u) != 0 ]]; then
		log "bench: missing ${want[*]} (not root, not installing): their rows stay empty"
		return 0
	fi
	log "bench: installing ${want[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null ||
		log "bench: installing ${want[*]} failed: their rows stay empty"
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
c_run() { c_bin "$SPAWNBENCH" "$@"; }

# c_bin BINARY NAME ARGS… runs a C harness that prints spawnbench's line.
c_bin() {
	local bin=$1 name=$2 line
	shift 2
	line=$("${RUN[@]}" "$bin" "$@")
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

group_seccomp() {
	(cd seccomp && go_bench "$SECCOMPTEST" "$SECCOMPGO" "$OUT/raw/seccomp-$MODE-$ROUND.txt")
}

group_spawn_go() {
	(cd spawn && go_bench "$TESTBIN" "$GOBENCH" "$OUT/raw/go-$MODE-$ROUND.txt")
}

# go_bench TESTBIN REGEXP RAW runs Go benchmarks under "${RUN[@]}" with
# $SANDBOX_BENCH_NOP set and records every reported metric.
go_bench() {
	local bin=$1 re=$2 raw=$3
	if ! SANDBOX_BENCH_NOP=$NOP "${RUN[@]}" "$bin" -test.run '^$' \
		-test.bench "$re" -test.benchtime "$BENCHTIME" -test.count 1 -test.v=false >"$raw" 2>&1; then
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

# ------------------------------------------- group: sandbox peers -------

# The peers as whole commands, /bin/true inside. Names become Peer/<name>.
BWRAP_ARGS=(--unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp /bin/true)
peer_cmds() {
	printf '%s\n' \
		"sandbox-run|$SANDBOX run -- /bin/true" \
		"sandbox-run/share-net|$SANDBOX run --share-net -- /bin/true" \
		"sandbox-run/seccomp-unconfined|$SANDBOX run --seccomp unconfined -- /bin/true" \
		"sandbox-run/cgo-build|$SANDBOX-cgo run -- /bin/true" \
		"go-empty-main|$BINDIR/goempty" \
		"bwrap|bwrap ${BWRAP_ARGS[*]}" \
		"runc|runc run -b $BUNDLE sbbench-runc-$$"
}
# crun's commands run in a private mount namespace (see the header).
crun_cmds() {
	printf '%s\n' \
		"crun|crun run -b $BUNDLE sbbench-crun-$$" \
		"crun/no-cgroups|crun --cgroup-manager=disabled run -b $BUNDLE sbbench-crunn-$$"
}
CRUN_NS=(unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' crun-ns)

# hyper NAME-PREFIX PREFIX… -- LINES: times every "name|command" line of
# stdin with hyperfine (no shell, warm-up 3, $PEER_RUNS runs) under PREFIX
# and records the median and the CPU (user+sys of all its processes) per run.
hyper() {
	local prefix=() args=() line name cmd csv
	while (($#)) && [[ $1 != -- ]]; do prefix+=("$1"); shift; done
	while IFS= read -r line; do
		name=${line%%|*} cmd=${line#*|}
		[[ -x $(command -v "${cmd%% *}") ]] || continue
		args+=(-n "$name" "$cmd")
	done
	((${#args[@]})) || return 0
	csv=$OUT/raw/hyperfine-$MODE-$ROUND-$RANDOM.csv
	if ! "${RUN[@]}" "${prefix[@]}" hyperfine -N -w 3 -r "$PEER_RUNS" --style none \
		--export-csv "$csv" "${args[@]}" >>"$OUT/raw/hyperfine.txt" 2>&1; then
		log "bench: hyperfine failed ($MODE, round $ROUND): see $OUT/raw/hyperfine.txt"
		tail -5 "$OUT/raw/hyperfine.txt" >&2
		return 0
	fi
	# command,mean,stddev,median,user,system,min,max (seconds)
	while IFS=, read -r name _ _ med user sys _; do
		[[ $name == command ]] && continue
		emit "Peer/$name" p50-ms "$(awk -v v="$med" 'BEGIN { printf "%.3f", v * 1000 }')"
		emit "Peer/$name" cpu-ms "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", (u + s) * 1000 }')"
	done <"$csv"
}

# peak_rss NAME PREFIX… -- COMMAND…: GNU time's %M (the largest resident set
# of the command and its waited-for descendants), the highest of 3 runs.
peak_rss() {
	local name=$1 prefix=() max=0 kib i
	shift
	while (($#)) && [[ $1 != -- ]]; do prefix+=("$1"); shift; done
	shift
	[[ -x /usr/bin/time && -x $(command -v "$1") ]] || return 0
	for i in 1 2 3; do
		kib=$("${RUN[@]}" "${prefix[@]}" /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)
		[[ $kib =~ ^[0-9]+$ ]] || { log "bench: peak RSS of $name: $kib"; return 0; }
		((kib > max)) && max=$kib
	done
	emit "Peer/$name" peak-RSS-MiB "$(awk -v k="$max" 'BEGIN { printf "%.2f", k / 1024 }')"
}

group_sandbox_peers() {
	# Issue 3: the default sandbox and its C floor, static child.
	c_bin "$FLOOR" sandboxfloor/net -n 500 "$NOP"
	c_bin "$FLOOR" sandboxfloor/nonet -N -n 800 "$NOP"
	# Ablation: the compiled program's own syscalls (new mount API, openat2
	# before every mount), done in C.
	c_bin "$FLOOR" sandboxfloor-newapi/net -A -n 500 "$NOP"
	c_bin "$FLOOR" sandboxfloor-newapi/nonet -A -N -n 800 "$NOP"
	c_bin "$FLOOR" sandboxfloor/net/true -n 150 -w 10 /bin/true
	go_bench "$SANDBOXTEST" "$SANDBOXGO" "$OUT/raw/go-sandbox-$MODE-$ROUND.txt"
	# Issue 5: whole commands.
	peer_cmds | hyper --
	crun_cmds | hyper "${CRUN_NS[@]}" --
	local line name
	while IFS= read -r line; do
		name=${line%%|*}
		read -ra cmd <<<"${line#*|}"
		peak_rss "$name" -- "${cmd[@]}"
	done < <(peer_cmds)
	peak_rss true -- /bin/true
	peak_rss crun "${CRUN_NS[@]}" -- crun run -b "$BUNDLE" "sbbench-crun-$$"
}

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

report_sandbox_peers() {
	table "issue 3: the default sandbox, static child, spawn-to-exit (µs: p50, mean, parent CPU per sandbox)" \
		p50-µs mean-µs parent-cpu-µs/op -- \
		C/sandboxfloor/net C/sandboxfloor-newapi/net DefaultSandbox/net \
		C/sandboxfloor/nonet C/sandboxfloor-newapi/nonet DefaultSandbox/nonet C/sandboxfloor/net/true
	table "issue 5: /bin/true as a whole command (ms: median per run; CPU = user+sys of all its processes; MiB: peak RSS)" \
		p50-ms cpu-ms peak-RSS-MiB -- \
		Peer/sandbox-run Peer/sandbox-run/share-net Peer/sandbox-run/seccomp-unconfined \
		Peer/sandbox-run/cgo-build Peer/go-empty-main \
		Peer/bwrap Peer/crun Peer/crun/no-cgroups Peer/runc Peer/true
	table "issue 5: the library, /bin/true (µs: p50, mean, parent CPU per run)" \
		p50-µs mean-µs parent-cpu-µs/op -- \
		Command/sandbox Command/osexec
}

report_seccomp() {
	table "issue 4: the default seccomp profile (µs per operation; BPF instructions)" \
		mean-µs insns/syscall insns/max insns/program -- \
		CompileCold CompileCached CompileLibseccomp Install InstallNone \
		SpawnDefaultProfile SpawnNoFilter FilterInstructions
	printf '\n== targets (issue 4; medians over %s rounds)\n' "$ROUNDS"
	target "cached compile of the default (µs)" "<=" 50 CompileCached mean-µs
	target "BPF instructions per syscall, average" "<=" 30 FilterInstructions insns/syscall
	printf '\n-- for information (no target)\n'
	info "cold compile through libseccomp (µs)" CompileLibseccomp mean-µs
	info "adding the filter to a program (µs)" Install mean-µs
	info "/bin/true under the filter / without" SpawnDefaultProfile mean-µs SpawnNoFilter mean-µs
}

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

# info TEXT A_BENCH A_METRIC [B_BENCH B_METRIC] prints A (or A/B) per mode,
# without a target.
info() {
	local text=$1 mode v line
	shift
	line=$(printf '%-40s %7s' "$text" "")
	for mode in "${MODES[@]}"; do
		if (($# == 4)); then v=$(ratio "$mode" "$@"); else v=$(get "$mode" "$1" "$2"); fi
		line+=$(printf '   %s %7s %-7s' "$mode" "$([[ -n $v ]] && num "$v" || echo -)" "")
	done
	printf '%s\n' "$line"
}

# derived TEXT EXPR NAME=BENCH:METRIC… prints the awk expression EXPR over
# the named medians, per mode, without a target.
derived() {
	local text=$1 expr=$2 mode line v spec bm vars ok
	shift 2
	line=$(printf '%-40s %7s' "$text" "")
	for mode in "${MODES[@]}"; do
		vars=() ok=1
		for spec in "$@"; do
			bm=${spec#*=}
			v=$(get "$mode" "${bm%:*}" "${bm##*:}")
			[[ -n $v ]] || { ok=0; break; }
			vars+=(-v "${spec%%=*}=$v")
		done
		v=
		((ok)) && v=$(awk "${vars[@]}" "BEGIN { printf \"%.3f\", $expr }")
		line+=$(printf '   %s %7s %-7s' "$mode" "$([[ -n $v ]] && num "$v" || echo -)" "")
	done
	printf '%s\n' "$line"
}

report_sandbox_targets() {
	printf '\n== targets (issues 3 and 5; medians over %s rounds; ratios of p50s)\n' "$ROUNDS"
	target "3: default sandbox / C floor, static" "<=" 1.25 \
		DefaultSandbox/net p50-µs C/sandboxfloor/net p50-µs
	target "5: sandbox run / bwrap, /bin/true" "<=" 0.7 \
		Peer/sandbox-run p50-ms Peer/bwrap p50-ms
	target "5: peak RSS of sandbox run (MiB)" "<=" 10 \
		Peer/sandbox-run peak-RSS-MiB
	printf '\n-- for information (no target)\n'
	info "3: same without a network namespace" DefaultSandbox/nonet p50-µs C/sandboxfloor/nonet p50-µs
	info "3: mean: default sandbox / C floor" DefaultSandbox/net mean-µs C/sandboxfloor/net mean-µs
	info "3: C with its syscalls (-A) / C" C/sandboxfloor-newapi/net p50-µs C/sandboxfloor/net p50-µs
	info "3: default sandbox / C with its syscalls" DefaultSandbox/net p50-µs C/sandboxfloor-newapi/net p50-µs
	info "3: parent CPU: sandbox / C floor" DefaultSandbox/net parent-cpu-µs/op C/sandboxfloor/net parent-cpu-µs/op
	info "5: sandbox run / crun run" Peer/sandbox-run p50-ms Peer/crun p50-ms
	info "5: sandbox run / runc run" Peer/sandbox-run p50-ms Peer/runc p50-ms
	info "5: sandbox run / bwrap, CPU per run" Peer/sandbox-run cpu-ms Peer/bwrap cpu-ms
	info "5: cgo build of sandbox run / bwrap" Peer/sandbox-run/cgo-build p50-ms Peer/bwrap p50-ms
	info "5: Command.Run / os/exec, /bin/true" Command/sandbox p50-µs Command/osexec p50-µs
	# The floor of any Go CLI here: an empty Go program plus the same
	# sandbox's setup done in C (warm). Above 0.7, the target is out of
	# reach of a cold Go process on this host (docs/decisions.md).
	derived "5: (empty Go program + C floor) / bwrap" "(g + f / 1000) / b" \
		g=Peer/go-empty-main:p50-ms f=C/sandboxfloor/net/true:p50-µs b=Peer/bwrap:p50-ms
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
	info "parent CPU per spawn, C vfork (us/op)" C/vfork/static parent-cpu-µs/op
	# Pinned, a spawn's time is CPU: the parent's plus the child's (clone,
	# exec, exit, in the kernel, alike for both). The ratio os/exec could
	# be beaten by if the parent cost nothing (docs/decisions.md).
	derived "8 goroutines: ceiling at parent CPU 0" "o / (s - p)" \
		o=SpawnParallel/osexec/g=8:mean-µs s=SpawnParallel/spawn/g=8:mean-µs p=SpawnParallel/spawn/g=8:parent-cpu-µs/op
}

# ------------------------------------------------------------------ main ---

# revision names the commit measured ("+dirty" with local changes), or the
# tree when it is not a git checkout (e.g. a `git archive` snapshot).
revision() {
	local rev
	if rev=$(git rev-parse --short HEAD 2>/dev/null); then
		git diff --quiet HEAD 2>/dev/null || rev+=+dirty
		echo "$rev"
	else
		echo "$ROOT (not a git checkout)"
	fi
}

# report prints the tables and targets of $OUT/results.tsv.
report() {
	stats
	if has_group spawn_c || has_group spawn_go; then report_spawn; fi
	if has_group sandbox_peers; then report_sandbox_peers; fi
	if has_group spawn_c || has_group spawn_go; then report_targets; fi
	if has_group sandbox_peers; then report_sandbox_targets; fi
	if has_group seccomp; then report_seccomp; fi
}

main() {
	local start=$SECONDS g
	if [[ -n ${BENCH_REPORT:-} ]]; then
		head -4 "$OUT/summary.txt"
		report
		return
	fi
	log "bench: building the C harness and the spawn test binary"
	build
	{
		echo "benchmarks — $(date -u +%FT%TZ), $(revision)"
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
	{
		report
		printf '\nload after: %s; %d s; raw results in %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" $((SECONDS - start)) "$OUT"
	} | tee -a "$OUT/summary.txt"
}

main "$@"
