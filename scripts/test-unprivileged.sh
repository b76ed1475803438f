#!/usr/bin/env bash
# The unprivileged pass of `make test`: every package's tests, built as the
# caller (root), run again as nobody. Tests of the privileged path skip with
# SANDBOX_TEST_UNPRIVILEGED_PASS=1 (the root pass ran them); everything
# else must work, since user namespaces let an ordinary user sandbox too.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
	echo "test-unprivileged: already unprivileged; the main pass covered it"
	exit 0
fi
go=${GO:-go}
dir=$(mktemp -d /tmp/sandbox-upass.XXXXXX)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
CGO_ENABLED=0 $go build -buildvcs=false -o "$dir/checker" ./internal/checker
CGO_ENABLED=0 $go build -buildvcs=false -o "$dir/sandbox" ./cmd/sandbox
$go build -buildvcs=false -o "$dir/sandbox-seccomp" ./cmd/sandbox-seccomp
fail=0
while IFS='|' read -r path pdir; do
	[ -n "$path" ] || continue
	name=$(echo "$path" | tr / _)
	$go test -race -c -o "$dir/$name.test" "$path"
	mkdir -p "$dir/$name"
	if [ -d "$pdir/testdata" ]; then cp -r "$pdir/testdata" "$dir/$name/"; fi
	chmod -R a+rX "$dir"
	echo "== $path (as nobody)"
	if ! (cd "$dir/$name" && setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -i PATH="$PATH" HOME=/tmp TMPDIR=/tmp SANDBOX_CHECKER="$dir/checker" SANDBOX_BIN="$dir/sandbox" \
		SANDBOX_TEST_UNPRIVILEGED_PASS=1 SANDBOX_TEST_MUST_WORK="${SANDBOX_TEST_MUST_WORK:-}" \
		"$dir/$name.test" -test.count=1 -test.timeout=15m); then
		fail=1
	fi
done < <($go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}|{{.Dir}}{{end}}' ./...)
exit $fail
