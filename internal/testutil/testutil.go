// Package testutil holds the gates privileged tests pass through. Each
// skip says what is needed and how to provide it; with
// SANDBOX_TEST_MUST_WORK=1 (set by CI, which runs as root) every skip
// becomes a failure, so a privileged suite cannot pass by not running.
package testutil

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// MustWork reports whether skips are forbidden.
func MustWork() bool { return os.Getenv("SANDBOX_TEST_MUST_WORK") == "1" }

// Skip skips the test with reason, or fails it under MustWork.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if MustWork() {
		t.Fatalf("SANDBOX_TEST_MUST_WORK=1 but the test would skip: %s", reason)
	}
	t.Skip(reason)
}

// SkipAlways skips even under MustWork: for tests that by design run
// only in one mode (for example the unprivileged half of a suite, run as
// root). The reason must say where the test does run.
func SkipAlways(t testing.TB, reason string) {
	t.Helper()
	t.Skip(reason)
}

// UnprivilegedPass reports that this run is the suite's second pass, as
// an unprivileged user, after a pass as root (make test runs both).
func UnprivilegedPass() bool { return os.Getenv("SANDBOX_TEST_UNPRIVILEGED_PASS") == "1" }

// RequireRoot needs euid 0. In the unprivileged pass it skips without
// failing: the root pass ran the test.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if UnprivilegedPass() {
			SkipAlways(t, "needs root; ran in the root pass")
		}
		Skip(t, "needs root (run the suite as root: sudo make test)")
	}
}

// RequireNonRoot is for tests of the unprivileged path; as root they skip
// without failing, since CI runs them separately as an unprivileged user.
func RequireNonRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		SkipAlways(t, "tests the unprivileged path; run as a normal user")
	}
}

// RequireUserNS needs unprivileged-capable user namespaces.
func RequireUserNS(t testing.TB) {
	t.Helper()
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		Skip(t, "user namespaces are disabled: sysctl user.max_user_namespaces=0")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && strings.TrimSpace(string(b)) == "1" && os.Geteuid() != 0 {
		Skip(t, "AppArmor restricts unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns=0")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" && os.Geteuid() != 0 {
		Skip(t, "unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone=1")
	}
}

// RequireCgroup2 needs a cgroup2 mount and returns its path.
func RequireCgroup2(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	Skip(t, "needs a cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified")
	return ""
}

// SkipIfUnsupported skips when err says the kernel or its configuration
// does not support an operation (modeled on internal/testenv).
func SkipIfUnsupported(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, errors.ErrUnsupported) {
		Skip(t, what+": not supported here: "+err.Error())
	}
}

// Processes lists the processes, other than this one, whose command line
// (its NUL-separated arguments) match accepts.
func Processes(match func(cmdline string) bool) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if match(string(b)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// OpenPty opens a new pseudo-terminal pair (neither becomes the caller's
// controlling terminal) and closes both when t ends.
func OpenPty(t testing.TB) (master, slave *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		Skip(t, "no /dev/ptmx: "+err.Error())
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return ptm, pts
}

// Lines reads r line by line (a terminal's "\r\n" as "\n") and returns a
// function that waits, up to 10 s, for a line ending in want, failing t
// with the lines seen otherwise. Lines before the match are consumed.
func Lines(t testing.TB, r io.Reader) (expect func(want string)) {
	lines := make(chan string, 64)
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			lines <- strings.TrimRight(s.Text(), "\r")
		}
		close(lines)
	}()
	var seen []string
	return func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("output ended before %q: %q", want, seen)
				}
				seen = append(seen, l)
				// A terminal echoes what is typed: ^C before INT.
				if strings.HasSuffix(l, want) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q in 10s: %q", want, seen)
			}
		}
	}
}
