#!/usr/bin/env bash
# make demo: show the sandbox at work.
set -u
sb=${1:-bin/sandbox}
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; echo "→ exit $?"; }

run "$sb" spawn -time -- /bin/echo "hello from a clone3(CLONE_VM) child"
run "$sb" spawn -program -- /bin/true
run "$sb" spawn -- /nonexistent/binary
exit 0
