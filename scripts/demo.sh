#!/usr/bin/env bash
# make demo: hostile commands in the default sandbox, each with the result
# record sandbox run writes (--status-json -, on stderr).
set -u
sb=${1:-bin/sandbox}
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; }
run() {
	local title=$1
	shift
	step "$title" "$*"
	"$@"
	echo "→ sandbox run exited $?"
}

run "Who am I in there?" \
	"$sb" run -- sh -c 'id; hostname; cat /proc/self/uid_map; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status'

run "Reading the host's /root (not bound in: it does not exist)" \
	"$sb" run --status-json - -- sh -c 'ls -la /root; cat /root/.bash_history'

run "Writing to /usr (a read-only bind of the host's)" \
	"$sb" run --status-json - -- sh -c 'echo pwned > /usr/bin/pwned'

run "Remounting /usr read-write (no capabilities, seccomp, namespaces owned by the host)" \
	"$sb" run --status-json - -- sh -c 'mount -o remount,rw /usr'

run "Seeing host processes (a pid namespace of its own)" \
	"$sb" run -- sh -c 'ls /proc | grep -E "^[0-9]+$" | tr "\n" " "; echo'

run "Reaching the network (only lo, in a network namespace of its own)" \
	"$sb" run -- sh -c 'cat /proc/net/dev | tail -n +3 | cut -d: -f1'

run "A fork bomb under --pids 64" \
	"$sb" run --pids 64 --wall-time 10 --status-json - -- sh -c 'b() { b | b & }; b 2>/dev/null; sleep 2; exit 1'

run "A memory hog under --memory 64m" \
	"$sb" run --memory 64m --status-json - -- python3 -c 'x = bytearray(1 << 30)'

run "A CPU spinner under --time 1" \
	"$sb" run --time 1 --status-json - -- sh -c 'while :; do :; done'

run "A double-forked daemon outliving its parent, under --wall-time 1" \
	"$sb" run --wall-time 1 --status-json - -- sh -c '(setsid sleep 1000 &); sleep 1000'
echo "(no 'sleep 1000' is left on the host:)"
pgrep -a -f 'sleep 1000' || echo "none"

run "A command that does not exist" \
	"$sb" run --status-json - -- /no/such/program

run "What the sandbox does, step by step (first and last lines)" \
	sh -c "\"$sb\" explain -- true | sed -n '1,6p;/pivot_root/p;/seccomp(/p;\$p'"
exit 0
